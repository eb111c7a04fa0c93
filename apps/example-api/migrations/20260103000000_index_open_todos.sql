-- mig:no-transaction
create index concurrently if not exists todos_open_idx on todos (created_at) where not done;
-- mig:down
drop index concurrently if exists todos_open_idx;
