// The composer's `/` menu, as data: the commands of a project (asked for each time the menu opens, the last
// answer shown meanwhile), and the filter that orders them for what was typed.

import { api } from './api';
import type { ProjectCommands, SlashCommand } from './events';

export type CommandSource = 'project' | 'user' | 'builtin';

/** One row of the menu. */
export interface MenuCommand extends SlashCommand {
  source: CommandSource;
}

/** What the menu offers for `text`: the query after the `/`, or null when the menu is not for this text
 *  (it opens only on a `/` at the very start, until the first space). */
export function slashQuery(text: string): string | null {
  const m = /^\/(\S*)$/.exec(text);
  return m ? m[1] : null;
}

/** Every command, the project's first, then the user's, then the built-ins. */
export function flatten(commands: ProjectCommands): MenuCommand[] {
  const of = (source: CommandSource, list: SlashCommand[]) => list.map((c) => ({ ...c, source }));
  return [...of('project', commands.project), ...of('user', commands.user), ...of('builtin', commands.builtin)];
}

/** The commands matching `query` (case-insensitive): names that start with it first, then names that contain
 *  it, then descriptions that contain it; within each, in source order. */
export function filterCommands(all: MenuCommand[], query: string): MenuCommand[] {
  const q = query.toLowerCase();
  if (!q) return all;
  const name = (c: MenuCommand) => c.name.toLowerCase();
  const starts = all.filter((c) => name(c).startsWith(q) || name(c).split(':').some((part) => part.startsWith(q)));
  const contains = all.filter((c) => !starts.includes(c) && name(c).includes(q));
  const described = all.filter(
    (c) => !starts.includes(c) && !contains.includes(c) && (c.description ?? '').toLowerCase().includes(q),
  );
  return [...starts, ...contains, ...described];
}

const known = new Map<string, MenuCommand[]>();

/** The commands last loaded for the project (shown at once while the menu asks again), if any. */
export function knownCommands(projectPath: string): MenuCommand[] | undefined {
  return known.get(projectPath);
}

/** Asks the server for the project's commands (each time the menu opens: command files change on disk). */
export async function loadCommands(projectPath: string): Promise<MenuCommand[]> {
  const commands = flatten(await api.projectCommands(projectPath));
  known.set(projectPath, commands);
  return commands;
}
