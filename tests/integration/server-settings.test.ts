import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveManagerToken, tokensEqual, TokenError } from '../../server/middleware/auth.ts';
import {
  resolveSettings,
  SETTINGS,
  SettingsError,
  settingKey,
  settingsHelp,
  settingsMarkdownTable,
} from '../../server/settings.ts';

describe('settings table', () => {
  it('documents every setting the server reads', () => {
    const keys = Object.keys(resolveSettings());
    expect(keys.sort()).toEqual(SETTINGS.map((s) => settingKey(s.name)).sort());
    for (const s of SETTINGS) {
      expect(s.help.length, `help of ${s.name}`).toBeGreaterThan(20);
      expect(settingsHelp()).toContain(`--${s.name}`);
      expect(settingsMarkdownTable()).toContain(`\`--${s.name}\``);
    }
  });

  it('is the table the README shows (regenerate with `npx tsx server/main.ts --settings-table`)', () => {
    // Cells compared without padding, so a formatter may align the README's table.
    const cells = (md: string) =>
      md
        .split('\n')
        .filter((l) => l.startsWith('|') && !/^\|[\s|:-]+\|$/.test(l))
        .map((l) =>
          l
            .split('|')
            .map((c) => c.trim())
            .join('|'),
        );
    const readme = new Set(cells(readFileSync('README.md', 'utf8')));
    const rows = cells(settingsMarkdownTable());
    expect(rows.length).toBeGreaterThanOrEqual(SETTINGS.length);
    for (const row of rows) expect(readme.has(row), row).toBe(true);
  });

  it('drives the CLI help', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'server/main.ts', '--help'], {
      encoding: 'utf8',
    });
    for (const s of SETTINGS) expect(out).toContain(`--${s.name}`);
  });

  it('refuses an imagery allow-list entry it cannot read, and opens nothing by default', () => {
    expect(resolveSettings().imageryAllowHosts).toBeUndefined();
    expect(
      resolveSettings({ 'imagery-allow-hosts': '127.0.0.1, 10.0.0.0/8, tiles.lan' }).imageryAllowHosts,
    ).toBe('127.0.0.1, 10.0.0.0/8, tiles.lan');
    expect(() => resolveSettings({ 'imagery-allow-hosts': '10.0.0.0/99' })).toThrow(SettingsError);
    expect(() => resolveSettings({}, { TILELENS_IMAGERY_ALLOW_HOSTS: 'http://x/' })).toThrow(
      /TILELENS_IMAGERY_ALLOW_HOSTS: "http:\/\/x\/" in the imagery allow-list is neither/,
    );
  });

  it('binds 127.0.0.1 unless told otherwise', () => {
    expect(resolveSettings().host).toBe('127.0.0.1');
    expect(resolveSettings({ host: '0.0.0.0' }).host).toBe('0.0.0.0');
  });

  it('takes flags over environment over defaults, and refuses what it does not know', () => {
    expect(resolveSettings({}, { TILELENS_PUBLIC_URL: 'http://a.example' }).publicUrl).toBe(
      'http://a.example',
    );
    expect(
      resolveSettings({ 'public-url': 'http://b.example' }, { TILELENS_PUBLIC_URL: 'http://a.example' })
        .publicUrl,
    ).toBe('http://b.example');
    expect(resolveSettings({ 'max-tile-features': '10' }).maxTileFeatures).toBe(10);
    expect(() => resolveSettings({ 'max-tile-features': 'lots' })).toThrow(
      /--max-tile-features must be an integer/,
    );
    expect(() => resolveSettings({ port: '70000' })).toThrow(SettingsError);
    expect(() => resolveSettings({ colour: 'blue' })).toThrow(/unknown setting "colour"/);
  });
});

describe('manager token', () => {
  it('is generated once into a 0600 file, then read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tilelens-token-'));
    try {
      const first = resolveManagerToken(dir, {});
      expect(first.source).toBe('generated');
      expect(statSync(join(dir, 'manager-token')).mode & 0o777).toBe(0o600);
      const again = resolveManagerToken(dir, {});
      expect(again).toMatchObject({ source: 'file', token: first.token });
      expect(resolveManagerToken(dir, { TILELENS_TOKEN: 'from-the-environment-123' })).toMatchObject({
        source: 'env',
        token: 'from-the-environment-123',
      });
      expect(() => resolveManagerToken(dir, { TILELENS_TOKEN: 'short' })).toThrow(TokenError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compares whole tokens', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abcd')).toBe(false);
    expect(tokensEqual('', 'abc')).toBe(false);
  });
});
