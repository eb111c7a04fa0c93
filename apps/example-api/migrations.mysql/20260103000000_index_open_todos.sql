create index todos_open_idx on todos (done, created_at);
-- mig:down
drop index todos_open_idx on todos;
