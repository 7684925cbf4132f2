// The types of Taskboard's factories (e2e/factories.yaml) and rows (db/schema.sql), in the
// shape `npx pglane types` writes: a row type per table, the attributes each factory accepts,
// its traits, and what it creates. Augmenting `PglaneFactories` types `lane.factories` and
// `workerLane.factories` in every test: `create('projet')` or `traits: ['finishd']` no longer
// compile, and results are typed. Values are what Postgres' to_json gives (bigint as number,
// timestamptz and date as ISO strings).
import 'pglane';

export type TaskStatus = 'todo' | 'doing' | 'done';

export interface UserRow { id: string; email: string; display_name: string; created_at: string }
export interface ProjectRow { id: number; owner_id: string; name: string; slug: string; archived_at: string | null; created_at: string }
export interface TaskRow {
  id: number;
  project_id: number;
  assignee_id: string | null;
  title: string;
  status: TaskStatus;
  priority: number;
  due_on: string | null;
  created_at: string;
}
export interface CommentRow { id: string; task_id: number; author_id: string; body: string; created_at: string }
export interface TagRow { id: number; project_id: number; name: string; color: string }
export interface TaskTagRow { task_id: number; tag_id: number }

export interface TaskboardFactories {
  user: { attrs: Partial<Omit<UserRow, 'id' | 'created_at'>> & { id?: string }; result: UserRow };
  project: {
    attrs: Partial<Omit<ProjectRow, 'id' | 'created_at'>> & { ownerId?: string; owner?: UserRow };
    traits: 'archived';
    result: ProjectRow & { owner?: UserRow };
  };
  task: {
    attrs: Partial<Omit<TaskRow, 'id' | 'created_at'>> & { projectId?: number; project?: ProjectRow };
    traits: 'done' | 'urgent';
    result: TaskRow & { project?: ProjectRow & { owner?: UserRow } };
  };
  comment: {
    attrs: Partial<Omit<CommentRow, 'id' | 'created_at'>> & { taskId?: number; task?: TaskRow; authorId?: string; author?: UserRow };
    result: CommentRow & { task?: TaskRow; author?: UserRow };
  };
  tag: { attrs: Partial<Omit<TagRow, 'id'>> & { projectId?: number; project?: ProjectRow }; result: TagRow & { project?: ProjectRow } };
  taskTag: { attrs: Partial<TaskTagRow> & { taskId?: number; task?: TaskRow; tagId?: number; tag?: TagRow }; result: TaskTagRow & { task?: TaskRow; tag?: TagRow } };
  board: {
    attrs: { owner?: Partial<UserRow>; project?: Partial<ProjectRow>; first?: Partial<TaskRow>; second?: Partial<TaskRow>; shipped?: Partial<TaskRow>; tag?: Partial<TagRow> };
    result: { owner: UserRow; project: ProjectRow; first: TaskRow; second: TaskRow; shipped: TaskRow; tag: TagRow; firstTag: TaskTagRow };
  };
}

declare module 'pglane' {
  interface PglaneFactories extends TaskboardFactories {}
}
