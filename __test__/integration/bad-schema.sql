-- A schema file with a mistake on line 4.
create table if not exists it_fine (id int);

create table it_broken (
  id int,
  title txt
);
