// The `/` menu's data: when it opens, how it filters and orders, and the settings item's text.

import { renderToStaticMarkup } from 'react-dom/server';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { MessageView } from './components/MessageView';
import { SlashMenu } from './components/SlashMenu';
import { filterCommands, flatten, slashQuery } from './slash';

const commands = flatten({
  builtin: [
    { name: 'compact', description: 'Free up context by summarizing the conversation so far', argument_hint: '<instructions>' },
    { name: 'init', description: 'Initialize the project with a CLAUDE.md guide', argument_hint: null },
  ],
  user: [{ name: 'git:sync', description: 'Pull, rebase and push', argument_hint: null }],
  project: [{ name: 'deploy', description: 'Ship it to staging', argument_hint: '<env>' }],
});

describe('the slash menu', () => {
  it('opens on a / at the very start, until the first space', () => {
    expect(slashQuery('/')).toBe('');
    expect(slashQuery('/dep')).toBe('dep');
    expect(slashQuery('/git:sy')).toBe('git:sy');
    expect(slashQuery('/deploy ')).toBeNull();
    expect(slashQuery(' /deploy')).toBeNull();
    expect(slashQuery('fix /deploy')).toBeNull();
    expect(slashQuery('')).toBeNull();
  });

  it('lists the project first, then the user, then the built-ins', () => {
    expect(commands.map((c) => `${c.source}:${c.name}`)).toEqual(['project:deploy', 'user:git:sync', 'builtin:compact', 'builtin:init']);
    expect(filterCommands(commands, '')).toEqual(commands);
  });

  it('filters by name start (also after a namespace), then name, then description', () => {
    expect(filterCommands(commands, 'SY').map((c) => c.name)).toEqual(['git:sync']);
    expect(filterCommands(commands, 'i').map((c) => c.name)).toEqual(['init', 'git:sync', 'deploy', 'compact']);
    expect(filterCommands(commands, 'staging').map((c) => c.name)).toEqual(['deploy']);
    expect(filterCommands(commands, 'nothing-like-it')).toEqual([]);
  });

  it('shows each command with its hint, source and description, and the active one selected', () => {
    const html = renderToStaticMarkup(
      createElement(SlashMenu, { id: 'm', query: 'de', commands, error: null, active: 0, onActive: () => {}, onChoose: () => {} }),
    );
    expect(html).toContain('/deploy');
    expect(html).toContain('&lt;env&gt;');
    expect(html).toContain('Ship it to staging');
    expect(html).toContain('aria-selected="true"');
    const none = renderToStaticMarkup(
      createElement(SlashMenu, { id: 'm', query: 'zzz', commands, error: null, active: 0, onActive: () => {}, onChoose: () => {} }),
    );
    expect(none).toContain('No command matches /zzz');
  });

  it('a settings change reads as a sentence in the transcript', () => {
    const html = renderToStaticMarkup(
      createElement(MessageView, { item: { kind: 'settings', model: 'opus', permissionMode: 'plan', key: '1:0' } }),
    );
    expect(html).toContain('Model changed to opus · Permission mode: plan');
  });
});
