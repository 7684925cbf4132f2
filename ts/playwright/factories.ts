/**
 * The factories of a run, from the `pglane` option: the user's YAML files and objects, and a
 * preset only when asked for (`preset: 'reference'`, or `'reference'` in the list).
 */
import { readFileSync } from 'node:fs';
import * as native from '../../index';
import { pglaneError } from '../errors';
import { resolvePath, type PglaneOptions } from './options';

/** The presets pglane ships, by the name users give them. */
export const PRESETS = ['reference'] as const;

/** The sources of a `pglane` option's factories (files read now, relative to `base`). */
export function factorySources(options: Pick<PglaneOptions, 'factories' | 'preset'> | undefined, base: string): native.FactorySource[] {
  const sources: native.FactorySource[] = [];
  const presets = new Set<string>();
  const addPreset = (name: string) => {
    if (presets.has(name)) return;
    presets.add(name);
    sources.push({ name: `the ${name} preset`, preset: name });
  };
  if (options?.preset) addPreset(options.preset);
  const given = options?.factories;
  const entries = given === undefined ? [] : Array.isArray(given) ? given : [given];
  entries.forEach((entry, i) => {
    if (typeof entry === 'string') {
      if ((PRESETS as readonly string[]).includes(entry)) return addPreset(entry);
      const { path, name } = resolvePath(base, entry);
      let yaml: string;
      try {
        yaml = readFileSync(path, 'utf8');
      } catch (err) {
        throw pglaneError('PGLANE_FACTORY_DEFINITION', `cannot read the factories file ${name} (${path}): ${(err as Error).message}`);
      }
      sources.push({ name, yaml });
    } else if (entry && typeof entry === 'object') {
      sources.push({ name: `factories object ${i + 1}`, object: entry });
    } else {
      throw pglaneError('PGLANE_FACTORY_DEFINITION', `factories: expected a YAML path or an object, got ${JSON.stringify(entry)}`);
    }
  });
  return sources;
}

/** The `Factories` of a `pglane` option, on `db`. */
export function loadFactories(options: Pick<PglaneOptions, 'factories' | 'preset'> | undefined, base: string, db?: native.Db): native.Factories {
  return native.Factories.fromSources(factorySources(options, base), db ?? null);
}
