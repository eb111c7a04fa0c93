alter table todos add column done integer not null default 0 check (done in (0, 1));
-- mig:down
alter table todos drop column done;
