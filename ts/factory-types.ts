/**
 * Types of factories: names, attributes, traits and results, so that
 * `lane.factories.create('projet')` and `traits: ['finishd']` fail to compile.
 *
 * A factory-types map has one entry per factory:
 *
 * ```ts
 * interface MyFactories {
 *   project: { attrs: { name?: string; owner_id?: string }; traits: 'archived'; result: ProjectRow };
 *   task: { attrs: { title?: string; project_id?: number; projectId?: number }; traits: 'done' | 'urgent'; result: TaskRow };
 * }
 * ```
 *
 * Give it to pglane either way:
 * - globally, by augmenting `PglaneFactories` (what a generated declaration file does):
 *   `declare module 'pglane' { interface PglaneFactories extends MyFactories {} }`;
 *   the `lane` and `workerLane` fixtures then use it everywhere;
 * - explicitly: `Lane<MyFactories>`, `LaneFactories<MyFactories>`, or
 *   `const test = pglaneTest<MyFactories>()`.
 *
 * Without either, any name, attribute and trait is accepted and results are `Row`.
 */
import type { Row } from '../index';

/** What one factory takes and gives. Every field is optional; missing ones are loose. */
export interface FactoryTypes {
  /** The attributes `create(name, attrs)` accepts: columns, parameters, associations. */
  attrs?: object;
  /** The union of its trait names. */
  traits?: string;
  /** What `create` resolves with: the row as stored (plus the rows of its steps). */
  result?: object;
  /** What `options.connect` accepts: relations connected to existing rows. */
  connect?: object;
}

/**
 * The factories of this project, by name. Empty here: augment it (or let a generated
 * declaration file augment it) to type `lane.factories` everywhere.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface PglaneFactories {}

/** Any factory: the map used while `PglaneFactories` is not augmented. */
export interface AnyFactories {
  [name: string]: { attrs: Record<string, unknown>; traits: string; result: Row };
}

/** `PglaneFactories` when a project augmented it, else `AnyFactories`. */
export type RegisteredFactories = keyof PglaneFactories extends never ? AnyFactories : PglaneFactories;

/** The factory names of a map. */
export type FactoryName<F> = Extract<keyof F, string>;

/** The attributes factory `N` of map `F` accepts (all optional; unknown ones are an error). */
export type FactoryAttrs<F, N extends keyof F> = F[N] extends { attrs: infer A } ? Partial<A> : Record<string, unknown>;

/** The traits of factory `N` of map `F`. */
export type FactoryTrait<F, N extends keyof F> = F[N] extends { traits: infer T extends string } ? T : never;

/** What factory `N` of map `F` creates. */
export type FactoryResult<F, N extends keyof F> = F[N] extends { result: infer R } ? R : Row;

/** What factory `N` of map `F` accepts as `options.connect`. */
export type FactoryConnect<F, N extends keyof F> = F[N] extends { connect: infer C } ? (unknown extends C ? Record<string, unknown> : C) : Record<string, unknown>;

/** Options of one factory call. */
export interface FactoryCallOptions<F, N extends keyof F> {
  /** Traits to apply, e.g. `['archived']`. */
  traits?: FactoryTrait<F, N>[];
  /** `'required'` (default): inference fills `NOT NULL` columns only; `'all'`: nullable ones too. */
  fill?: 'required' | 'all';
  /** Relations connected to existing rows instead of new parents: `{ project: projectRow }`. */
  connect?: FactoryConnect<F, N>;
}
