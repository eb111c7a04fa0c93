// Written by `mig bundle` (mig 0.1.0) from ../migrations, read as mig's flat layout (NAME.sql, NAME.ts).
// Do not edit. Write it again when a migration changes: mig bundle --migrations migrations --out src/migrations.bundle.ts
// `mig verify --bundle` says when it is stale.

export default {
  format: "mig-bundle",
  version: 1,
  mig: "0.1.0",
  layout: "mig",
  ordered: false,
  from: "../migrations",
  migrations: [
    {
      name: "20260101000000_create_todos",
      file: "20260101000000_create_todos.sql",
      sql: "create table todos (\n  id bigint generated always as identity primary key,\n  title text not null check (length(title) between 1 and 200),\n  created_at timestamptz not null default now()\n);\n-- mig:down\ndrop table todos;\n",
    },
    {
      name: "20260102000000_add_todo_done",
      file: "20260102000000_add_todo_done.sql",
      sql: "alter table todos add column done boolean not null default false;\n-- mig:down\nalter table todos drop column done;\n",
    },
    {
      name: "20260103000000_index_open_todos",
      file: "20260103000000_index_open_todos.sql",
      sql: "-- mig:no-transaction\ncreate index concurrently if not exists todos_open_idx on todos (created_at) where not done;\n-- mig:down\ndrop index concurrently if exists todos_open_idx;\n",
    },
  ],
} as const;
