/** A stable pglane error code, carried by `error.code` of every error pglane throws. */
export type PglaneErrorCode =
  | 'PGLANE_INVALID_NAME'
  | 'PGLANE_INVALID_CONFIG'
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
  | 'PGLANE_POOLER_UNSUPPORTED'
  | 'PGLANE_UNKNOWN_TABLE'
  | 'PGLANE_BAD_KEY'
  | 'PGLANE_FACTORY_UNKNOWN'
  | 'PGLANE_FACTORY_FIELD'
  | 'PGLANE_FACTORY_TRAIT'
  | 'PGLANE_FACTORY_DEFINITION'
  | 'PGLANE_INTERNAL'

/** An error thrown by pglane. */
export interface PglaneError extends Error {
  code: PglaneErrorCode
}

