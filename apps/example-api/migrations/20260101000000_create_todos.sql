create table todos (
  id bigint generated always as identity primary key,
  title text not null check (length(title) between 1 and 200),
  created_at timestamptz not null default now()
);
-- mig:down
drop table todos;
