create index todos_open_idx on todos (created_at) where not done;
-- mig:down
drop index todos_open_idx;
