-- A second schema for the benchmark, written for it and nothing else (pglane was not tuned for
-- it): a small shop backend as an ORM would make it. 11 tables, bigint identity keys, a
-- self-referencing category tree, a join table with a composite key, an order that reaches its
-- store both directly and through its customer, every foreign key indexed, and no ON DELETE
-- CASCADE anywhere: whoever deletes a store deletes everything under it.
drop schema if exists shop cascade;
create schema shop;

create table shop.accounts (
  id bigint generated always as identity primary key,
  name text not null unique,
  plan text not null default 'free',
  created_at timestamptz not null default now()
);

create table shop.stores (
  id bigint generated always as identity primary key,
  account_id bigint not null references shop.accounts (id),
  name text not null,
  slug text not null unique,
  currency char(3) not null default 'EUR',
  created_at timestamptz not null default now()
);
create index on shop.stores (account_id);

create table shop.categories (
  id bigint generated always as identity primary key,
  store_id bigint not null references shop.stores (id),
  parent_id bigint references shop.categories (id),
  name text not null,
  unique (store_id, name)
);
create index on shop.categories (parent_id);

create table shop.products (
  id bigint generated always as identity primary key,
  store_id bigint not null references shop.stores (id),
  title text not null,
  sku text not null,
  price_cents int not null,
  unique (store_id, sku)
);

create table shop.product_categories (
  product_id bigint not null references shop.products (id),
  category_id bigint not null references shop.categories (id),
  primary key (product_id, category_id)
);
create index on shop.product_categories (category_id);

create table shop.variants (
  id bigint generated always as identity primary key,
  product_id bigint not null references shop.products (id),
  name text not null,
  stock int not null default 0
);
create index on shop.variants (product_id);

create table shop.customers (
  id bigint generated always as identity primary key,
  store_id bigint not null references shop.stores (id),
  email text not null,
  name text not null,
  unique (store_id, email)
);

create table shop.addresses (
  id bigint generated always as identity primary key,
  customer_id bigint not null references shop.customers (id),
  line1 text not null,
  city text not null,
  country char(2) not null
);
create index on shop.addresses (customer_id);

create table shop.orders (
  id bigint generated always as identity primary key,
  store_id bigint not null references shop.stores (id),
  customer_id bigint not null references shop.customers (id),
  shipping_address_id bigint references shop.addresses (id),
  status text not null default 'paid',
  total_cents int not null,
  placed_at timestamptz not null default now()
);
create index on shop.orders (store_id);
create index on shop.orders (customer_id);
create index on shop.orders (shipping_address_id);

create table shop.order_lines (
  id bigint generated always as identity primary key,
  order_id bigint not null references shop.orders (id),
  variant_id bigint not null references shop.variants (id),
  quantity int not null,
  price_cents int not null
);
create index on shop.order_lines (order_id);
create index on shop.order_lines (variant_id);

create table shop.payments (
  id bigint generated always as identity primary key,
  order_id bigint not null references shop.orders (id),
  amount_cents int not null,
  provider text not null,
  reference text not null
);
create index on shop.payments (order_id);
