alter table todos add column done boolean not null default false;
-- mig:down
alter table todos drop column done;
