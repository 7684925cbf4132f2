//! The reference application's tables, as the typed `track*` helpers and the default lane
//! columns (the name and email columns pattern cleanup matches lane names against).

/// `trackX` helper name → table.
pub const TRACKED_TABLES: &[(&str, &str)] = &[
    ("AuthUser", "auth.users"),
    ("Profile", "public.profiles"),
    ("Organization", "public.organizations"),
    ("OrgMember", "public.organization_members"),
    ("Group", "public.groups"),
    ("GroupMember", "public.group_members"),
    ("Model", "public.models"),
    ("GroupModel", "public.group_models"),
    ("Invite", "public.invites"),
    ("Conversation", "public.conversations"),
    ("Message", "public.messages"),
];

/// Columns of the reference application that hold lane names and emails.
pub const LANE_COLUMNS: &[(&str, &[&str])] = &[
    ("auth.users", &["email"]),
    ("public.profiles", &["email"]),
    ("public.organizations", &["name", "slug"]),
    ("public.groups", &["name"]),
    ("public.models", &["name"]),
    ("public.invites", &["email"]),
    ("public.conversations", &["title"]),
];
