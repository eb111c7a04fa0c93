create table todos (
  id integer primary key autoincrement,
  title text not null check (length(title) between 1 and 200),
  created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- mig:down
drop table todos;
