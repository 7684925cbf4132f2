// A typical test's lane in NetBox (the 189-table Django schema of ../shared/realworld/netbox),
// written as NetBox's UI would write it: the test's factories made the top rows (tenant, site,
// manufacturer, device type, device role: tracked), the app made everything under them
// (locations in a tree, racks, devices, interfaces, cables and their terminations, IP addresses,
// VLANs, a prefix: untracked). 52 rows in 14 tables, one statement. Every foreign key of NetBox
// is DEFERRABLE INITIALLY DEFERRED, so the order of the inserts does not matter.
//
// Keys are allocated from NetBox's own sequences first (`allocateNetboxIds`), so the same lane,
// same keys and same names, can be written again (bench/workloads/netbox.mjs replays a captured
// cleanup statement on it).

/** Rows of one lane per table (`schema.table` → count). */
export const NETBOX_LANE_SHAPE = {
  'public.tenancy_tenant': 1,
  'public.dcim_site': 1,
  'public.dcim_manufacturer': 1,
  'public.dcim_devicetype': 1,
  'public.dcim_devicerole': 1,
  'public.dcim_location': 2,
  'public.dcim_rack': 2,
  'public.dcim_device': 4,
  'public.dcim_interface': 16,
  'public.dcim_cable': 4,
  'public.dcim_cabletermination': 8,
  'public.ipam_ipaddress': 8,
  'public.ipam_vlan': 2,
  'public.ipam_prefix': 1,
};

/** The lane's top rows: what the test's factories made, and what it tracks. */
export const NETBOX_TRACKED_TABLES = ['public.tenancy_tenant', 'public.dcim_site', 'public.dcim_manufacturer', 'public.dcim_devicetype', 'public.dcim_devicerole'];

export const NETBOX_LANE_ROWS = Object.values(NETBOX_LANE_SHAPE).reduce((a, b) => a + b, 0);

/** Keys for one lane from NetBox's identity sequences: `{ 'public.dcim_site': [id], ... }`. One round trip. */
export async function allocateNetboxIds(client) {
  const tables = Object.keys(NETBOX_LANE_SHAPE);
  const { rows } = await client.query(
    `select t, array(select nextval(pg_get_serial_sequence(t, 'id')) from generate_series(1, n))::int8[] as ids
     from unnest($1::text[], $2::int[]) x(t, n)`,
    [tables, tables.map((t) => NETBOX_LANE_SHAPE[t])],
  );
  return Object.fromEntries(rows.map((r) => [r.t, r.ids.map(String)]));
}

/** The content-type ids NetBox's generic relations use (interface, site). One round trip. */
export async function netboxContentTypes(client) {
  const { rows } = await client.query(`select model, id from django_content_type where app_label = 'dcim' and model in ('interface', 'site')`);
  return Object.fromEntries(rows.map((r) => [r.model, r.id]));
}

/**
 * Inserts one lane (keys from `allocateNetboxIds`, names from `ctx`: a pglane WorkerContext).
 * `octet` (0-255) keeps the lane's addresses apart from other lanes' (NetBox does not require it).
 */
export async function insertNetboxLane(client, ctx, ids, contentTypes, octet = 0) {
  const params = [];
  const p = (v) => `$${params.push(v)}`;
  const id = (table, i = 0) => p(ids[`public.${table}`][i]);
  const arr = (table) => `${p(ids[`public.${table}`])}::int8[]`;
  const ct = contentTypes;
  const dev = ids['public.dcim_device'];
  const ifc = ids['public.dcim_interface'];
  const ip = ids['public.ipam_ipaddress'];
  const cable = ids['public.dcim_cable'];
  const rack = ids['public.dcim_rack'];
  const loc = ids['public.dcim_location'];
  // Device d (0..3) sits in rack d >> 1 (location d >> 1); its interfaces are 4d..4d+3; IP 2d is
  // on eth0 (its primary IPv4), IP 2d+1 on eth1. Cables: D0-D1 and D2-D3 on eth0, D0-D2 and D1-D3
  // on eth1.
  const ends = []; // [cable, interface, end, device], by index
  for (const [c, a, b] of [[0, 0, 1], [1, 2, 3], [2, 0, 2], [3, 1, 3]]) {
    const port = c < 2 ? 0 : 1;
    ends.push([c, a * 4 + port, 'A', a], [c, b * 4 + port, 'B', b]);
  }
  const ifCable = new Array(16).fill(null);
  const ifEnd = new Array(16).fill(null);
  for (const [c, i, end] of ends) {
    ifCable[i] = cable[c];
    ifEnd[i] = end;
  }
  const sql = `with
  t as (insert into public.tenancy_tenant (id, created, last_updated, custom_field_data, name, slug, description, comments)
        values (${id('tenancy_tenant')}, now(), now(), '{}', ${p(ctx.name('Tenant'))}, ${p(ctx.slug('tenant'))}, '', '')),
  s as (insert into public.dcim_site (id, created, last_updated, custom_field_data, name, slug, status, facility, description,
          physical_address, shipping_address, comments, tenant_id)
        values (${id('dcim_site')}, now(), now(), '{}', ${p(ctx.name('Site'))}, ${p(ctx.slug('site'))}, 'active', '', '', '', '', '',
          ${id('tenancy_tenant')})),
  m as (insert into public.dcim_manufacturer (id, created, last_updated, custom_field_data, name, slug, description)
        values (${id('dcim_manufacturer')}, now(), now(), '{}', ${p(ctx.name('Vendor'))}, ${p(ctx.slug('vendor'))}, '')),
  dt as (insert into public.dcim_devicetype (id, created, last_updated, custom_field_data, model, slug, part_number, u_height,
          is_full_depth, front_image, rear_image, comments, manufacturer_id, description, console_port_template_count,
          console_server_port_template_count, power_port_template_count, power_outlet_template_count, interface_template_count,
          front_port_template_count, rear_port_template_count, device_bay_template_count, module_bay_template_count,
          inventory_item_template_count, exclude_from_utilization)
        values (${id('dcim_devicetype')}, now(), now(), '{}', ${p(ctx.name('Switch 48'))}, ${p(ctx.slug('switch-48'))}, '', 1, true, '', '',
          '', ${id('dcim_manufacturer')}, '', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, false)),
  r as (insert into public.dcim_devicerole (id, created, last_updated, custom_field_data, name, slug, color, vm_role, description)
        values (${id('dcim_devicerole')}, now(), now(), '{}', ${p(ctx.name('Access switch'))}, ${p(ctx.slug('access-switch'))}, '2196f3', false, '')),
  l as (insert into public.dcim_location (id, created, last_updated, custom_field_data, name, slug, description, lft, rght, tree_id,
          level, parent_id, site_id, tenant_id, status, facility)
        values (${id('dcim_location', 0)}, now(), now(), '{}', ${p(ctx.name('Hall A'))}, ${p(ctx.slug('hall-a'))}, '', 1, 4, 900000, 0, null,
                  ${id('dcim_site')}, ${id('tenancy_tenant')}, 'active', ''),
               (${id('dcim_location', 1)}, now(), now(), '{}', ${p(ctx.name('Cage 1'))}, ${p(ctx.slug('cage-1'))}, '', 2, 3, 900000, 1,
                  ${id('dcim_location', 0)}, ${id('dcim_site')}, ${id('tenancy_tenant')}, 'active', '')),
  k as (insert into public.dcim_rack (id, created, last_updated, custom_field_data, name, status, serial, width, u_height, desc_units,
          comments, location_id, site_id, tenant_id, description, starting_unit)
        select k, now(), now(), '{}', ${p(ctx.name('Rack '))} || n, 'active', '', 19, 42, false, '', loc, ${id('dcim_site')},
          ${id('tenancy_tenant')}, '', 1
        from unnest(${arr('dcim_rack')}, ${p(loc)}::int8[]) with ordinality x(k, loc, n)),
  d as (insert into public.dcim_device (id, created, last_updated, custom_field_data, name, serial, "position", face, status, comments,
          role_id, device_type_id, location_id, rack_id, site_id, tenant_id, primary_ip4_id, description, console_port_count,
          console_server_port_count, power_port_count, power_outlet_count, interface_count, front_port_count, rear_port_count,
          device_bay_count, module_bay_count, inventory_item_count)
        select d, now(), now(), '{}', ${p(ctx.name('sw'))} || n, '', 10 + n, 'front', 'active', '', ${id('dcim_devicerole')},
          ${id('dcim_devicetype')}, loc, rack, ${id('dcim_site')}, ${id('tenancy_tenant')}, ip4, '', 0, 0, 0, 0, 4, 0, 0, 0, 0, 0
        from unnest(${arr('dcim_device')}, ${p([loc[0], loc[0], loc[1], loc[1]])}::int8[], ${p([rack[0], rack[0], rack[1], rack[1]])}::int8[],
                    ${p([ip[0], ip[2], ip[4], ip[6]])}::int8[]) with ordinality x(d, loc, rack, ip4, n)),
  c as (insert into public.dcim_cable (id, created, last_updated, custom_field_data, type, status, label, color, tenant_id, comments, description)
        select c, now(), now(), '{}', 'cat6', 'connected', ${p(ctx.name('Patch '))} || n, '', ${id('tenancy_tenant')}, '', ''
        from unnest(${arr('dcim_cable')}) with ordinality x(c, n)),
  i as (insert into public.dcim_interface (id, created, last_updated, custom_field_data, name, label, description, mark_connected, enabled,
          _name, type, mgmt_only, device_id, cable_id, cable_end)
        select i, now(), now(), '{}', 'eth' || ((n - 1) % 4), '', '', false, true, 'eth' || ((n - 1) % 4), '1000base-t', false,
          dev, cab, cend
        from unnest(${arr('dcim_interface')}, ${p(ifc.map((_, n) => dev[n >> 2]))}::int8[], ${p(ifCable)}::int8[], ${p(ifEnd)}::text[])
          with ordinality x(i, dev, cab, cend, n)),
  ct as (insert into public.dcim_cabletermination (id, created, last_updated, cable_end, termination_id, cable_id, termination_type_id,
          _device_id, _rack_id, _location_id, _site_id)
        select id, now(), now(), cend, term, cab, ${p(ct.interface)}, dev, rk, lc, ${id('dcim_site')}
        from unnest(${arr('dcim_cabletermination')}, ${p(ends.map(([, i]) => ifc[i]))}::int8[], ${p(ends.map(([cc]) => cable[cc]))}::int8[],
                    ${p(ends.map(([, , e]) => e))}::text[], ${p(ends.map(([, , , dd]) => dev[dd]))}::int8[],
                    ${p(ends.map(([, , , dd]) => rack[dd >> 1]))}::int8[], ${p(ends.map(([, , , dd]) => loc[dd >> 1]))}::int8[])
          x(id, term, cab, cend, dev, rk, lc)),
  a as (insert into public.ipam_ipaddress (id, created, last_updated, custom_field_data, address, status, assigned_object_id,
          assigned_object_type_id, dns_name, description, tenant_id, comments)
        select a, now(), now(), '{}', ('10.' || ${p(octet)}::int || '.' || (n - 1) || '.1/24')::inet, 'active', ifc, ${p(ct.interface)},
          '', '', ${id('tenancy_tenant')}, ''
        from unnest(${arr('ipam_ipaddress')}, ${p(ip.map((_, n) => ifc[(n >> 1) * 4 + (n & 1)]))}::int8[]) with ordinality x(a, ifc, n)),
  v as (insert into public.ipam_vlan (id, created, last_updated, custom_field_data, vid, name, status, description, site_id, tenant_id, comments)
        select v, now(), now(), '{}', 100 * n, ${p(ctx.name('VLAN '))} || n, 'active', '', ${id('dcim_site')}, ${id('tenancy_tenant')}, ''
        from unnest(${arr('ipam_vlan')}) with ordinality x(v, n))
  insert into public.ipam_prefix (id, created, last_updated, custom_field_data, prefix, status, is_pool, description, tenant_id, vlan_id,
          _children, _depth, mark_utilized, comments, scope_id, scope_type_id, _site_id)
  values (${id('ipam_prefix')}, now(), now(), '{}', ('10.' || ${p(octet)}::int || '.0.0/16')::cidr, 'active', false, '', ${id('tenancy_tenant')},
          ${id('ipam_vlan', 0)}, 0, 0, false, '', ${id('dcim_site')}, ${p(ct.site)}, ${id('dcim_site')})`;
  await client.query(sql, params);
}

/** Rows of the lane with keys `ids` still present (summed over its tables). One round trip. */
export async function netboxLaneRowsLeft(client, ids) {
  const tables = Object.keys(NETBOX_LANE_SHAPE);
  const sql = `select ${tables.map((t, i) => `(select count(*) from ${t} where id = any($${i + 1}::int8[]))`).join(' + ')} as n`;
  const { rows } = await client.query(sql, tables.map((t) => ids[t]));
  return Number(rows[0].n);
}

/** Tracks the lane's top rows (what the test's factories made). */
export function trackNetboxLane(tracker, ids) {
  for (const t of NETBOX_TRACKED_TABLES) tracker.track(t, Number(ids[t][0]));
}
