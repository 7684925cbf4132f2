/** A stable pglane error code, carried by `error.code` of every error pglane throws. */
export type PglaneErrorCode =
  | 'PGLANE_INVALID_NAME'
  | 'PGLANE_INVALID_CONFIG'
  | 'PGLANE_INVALID_ARGUMENT'
  | 'PGLANE_NOT_TEST_DATABASE'
  | 'PGLANE_DB_AUTH'
  | 'PGLANE_DB_UNREACHABLE'
  | 'PGLANE_DB_NOT_FOUND'
  | 'PGLANE_DB_TLS'
  | 'PGLANE_DB_TOO_MANY_CONNECTIONS'
  | 'PGLANE_DB_TIMEOUT'
  | 'PGLANE_DB_CONNECTION_LOST'
  | 'PGLANE_DB_QUERY'
  | 'PGLANE_CONFLICT'
  | 'PGLANE_FOREIGN_KEY_VIOLATION'
  | 'PGLANE_LOCK_TIMEOUT'
  | 'PGLANE_DEADLOCK'
  | 'PGLANE_LOCK_NOT_AVAILABLE'
  | 'PGLANE_LOCK_NOT_HELD'
  | 'PGLANE_POOLER_UNSUPPORTED'
  | 'PGLANE_UNKNOWN_TABLE'
  | 'PGLANE_BAD_KEY'
  | 'PGLANE_FACTORY_UNKNOWN'
  | 'PGLANE_FACTORY_FIELD'
  | 'PGLANE_FACTORY_TRAIT'
  | 'PGLANE_FACTORY_DEFINITION'
  | 'PGLANE_FACTORY_VALUE'
  | 'PGLANE_FACTORY_INFER'
  | 'PGLANE_AUTH_API'
  | 'PGLANE_AUTH_RATE_LIMITED'
  | 'PGLANE_ROW_COUNT'
  | 'PGLANE_SCHEMA_FILE'
  | 'PGLANE_FIXTURE_SCOPE'
  | 'PGLANE_EMBEDDED_SETUP'
  | 'PGLANE_INTERNAL'

/** An error thrown by pglane. */
export interface PglaneError extends Error {
  code: PglaneErrorCode
  /** Postgres' SQLSTATE, when Postgres reported the error (e.g. `23505`). */
  sqlstate?: string
  /** The underlying error's text, secrets removed, when there is one. */
  cause?: Error
}


/** A row as Postgres stored it: column names as in the schema, values as JSON. */
export type Row = Record<string, any>

/** `auth.users` row with the identity and profile the preset creates with it. */
export interface UserRow extends Row {
  id: string
  email: string
  aud: 'authenticated'
  role: 'authenticated'
  encrypted_password: string
  email_confirmed_at: string | null
  raw_app_meta_data: Record<string, unknown>
  raw_user_meta_data: Record<string, unknown>
  identity: Row & { id: string; provider: 'email'; provider_id: string; identity_data: Record<string, unknown> }
  profile: Row & { id: string; email: string; full_name: string | null; onboarded: boolean }
}

/** `public.organizations` row (with `ownerMembership` when `ownerId` was given). */
export interface OrganizationRow extends Row {
  id: string
  name: string
  slug: string
  created_by: string | null
  ownerMembership?: Row
}

/** `public.groups` row (with `organization` when one was created for it). */
export interface GroupRow extends Row {
  id: string
  organization_id: string
  name: string
  organization?: OrganizationRow
}

/** `public.models` row. */
export interface ModelRow extends Row {
  id: string
  organization_id: string
  name: string
  provider: string
  model_key: string
  organization?: OrganizationRow
}

/** `public.invites` row. */
export interface InviteRow extends Row {
  id: string
  organization_id: string
  email: string
  role: string
  token: string
  invited_by: string | null
  organization?: OrganizationRow
}

/** Everything `createWorkerScopedCompleteSetup` creates, by step. */
export interface CompleteSetup {
  user: UserRow
  organization: OrganizationRow
  membership: Row
  group: GroupRow
  groupMember: Row
  model: ModelRow
  groupModel: Row
  invite: InviteRow
}
