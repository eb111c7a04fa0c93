create table todos (
  id bigint unsigned not null auto_increment primary key,
  title varchar(200) not null check (char_length(title) between 1 and 200),
  created_at timestamp(3) not null default current_timestamp(3)
);
-- mig:down
drop table todos;
