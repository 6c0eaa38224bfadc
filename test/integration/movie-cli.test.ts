/**
 * `jpipd movie` on real files: frames from files, folders and globs; relative, percent-encoded or
 * file:// links that resolve to the frames; fragments that point exactly at each frame's codestream;
 * XML copied byte for byte; --sort date; --embed; atomic output that is never overwritten without
 * --force; exit code 2 for bad arguments. Finally the movies are served by jpipd and every frame
 * decodes bit-exactly (skipped only while scanTarget still refuses hyperlinked JPX).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BufferSource } from '../../src/bytes/source.js';
import { movieCommand } from '../../src/cli/movie-command.js';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { parseJppStream } from '../../src/client/jpp-parser.js';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { JpipSession } from '../../src/client/session.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { planMovie, writeMovie } from '../../src/movie/build-movie.js';
import { inspectFrame } from '../../src/movie/frames.js';
import { decodeJ2k } from '../helpers/openjpeg.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';
import { walk } from '../helpers/box-walk.js';

const NAMES = ['aia_0001.jp2', 'aia_0002.jp2', 'aia_0003.jp2'];
/** Date order of the fixtures (DATE-OBS 00:02, DATE_OBS 00:00, T_OBS 00:01). */
const BY_DATE = ['aia_0002.jp2', 'aia_0003.jp2', 'aia_0001.jp2'];

const u32 = (b: Uint8Array, p: number): number => new DataView(b.buffer, b.byteOffset).getUint32(p);
const read = (p: string): Uint8Array => new Uint8Array(fs.readFileSync(p));

/** A movie file's links: per frame the fragment (offset, length, DR), and the URLs of the dtbl. */
function linksOf(movie: Uint8Array): { frags: Array<{ off: number; len: number; dr: number }>; urls: string[] } {
  const top = walk(movie);
  const frags = top
    .filter((b) => b.type === 'ftbl')
    .map((ftbl) => {
      const [flst] = walk(movie, ftbl.body, ftbl.end);
      assert.equal(flst.type, 'flst');
      const dv = new DataView(movie.buffer, movie.byteOffset + flst.body);
      assert.equal(dv.getUint16(0), 1, 'NF = 1');
      return { off: Number(dv.getBigUint64(2)), len: dv.getUint32(10), dr: dv.getUint16(14) };
    });
  const dtbl = top.filter((b) => b.type === 'dtbl');
  assert.ok(dtbl.length <= 1);
  const urls = dtbl.length
    ? walk(movie, dtbl[0].body + 2, dtbl[0].end).map((u) => {
        assert.deepEqual([...movie.subarray(u.body, u.body + 4)], [0, 0, 0, 0], 'url version 0, flags 0');
        assert.equal(movie[u.end - 1], 0, 'NUL-terminated');
        return Buffer.from(movie.subarray(u.body + 4, u.end - 1)).toString('utf8');
      })
    : [];
  return { frags, urls };
}

/** The payload of a frame's jp2c box. */
function codestreamOf(frame: Uint8Array): Uint8Array {
  const b = walk(frame).find((x) => x.type === 'jp2c');
  assert.ok(b);
  return frame.subarray(b.body, b.end);
}

/** A writable stand-in for stderr that keeps what is written. */
function capture(): NodeJS.WriteStream & { text: string } {
  const s = {
    text: '',
    isTTY: false,
    write(chunk: string | Uint8Array): boolean {
      s.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    },
  };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

let root: string;

/**
 * Runs `jpipd movie` with the given arguments from the temporary root. The working directory is
 * restored at once: worker threads started later resolve `--import tsx` against it.
 */
async function movie(...argv: string[]): Promise<{ code: number; text: string }> {
  const out = capture();
  const cwd = process.cwd();
  process.chdir(root);
  try {
    const code = await movieCommand(argv, out);
    return { code, text: out.text };
  } finally {
    process.chdir(cwd);
  }
}

before(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-movie-cli-')));
  fs.mkdirSync(path.join(root, 'frames'));
  fs.mkdirSync(path.join(root, 'movies'));
  fs.mkdirSync(path.join(root, 'odd dir'));
  for (const n of NAMES) fs.copyFileSync(path.join(FIXTURES, 'movie-frames', n), path.join(root, 'frames', n));
  fs.copyFileSync(path.join(FIXTURES, 'movie-frames', NAMES[0]), path.join(root, 'odd dir', 'x #1%.jp2'));
  fs.copyFileSync(path.join(FIXTURES, 'gray128-lbox0.jp2'), path.join(root, 'odd dir', 'nodate.jp2'));
  fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), path.join(root, 'odd dir', 'rgb96.jp2'));
});
after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('jpipd movie: linked movies', () => {
  it('links each frame (folder input, name order) by a relative URL and by its exact codestream bytes', async () => {
    const r = await movie('--out', 'movies/by-name.jpx', 'frames');
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /writing \[#+\] 3\/3/);
    const m = read(path.join(root, 'movies/by-name.jpx'));
    const { frags, urls } = linksOf(m);
    assert.deepEqual(urls, NAMES.map((n) => `../frames/${n}`));
    frags.forEach((f, i) => {
      assert.equal(f.dr, i + 1);
      const target = path.resolve(root, 'movies', decodeURIComponent(urls[f.dr - 1]));
      assert.equal(target, path.join(root, 'frames', NAMES[i]), 'the URL resolves to the frame');
      const frame = read(target);
      assert.deepEqual(frame.subarray(f.off, f.off + f.len), codestreamOf(frame), `frame ${i}: OFF/LEN cover exactly its codestream`);
    });
    assert.deepEqual(fs.readdirSync(path.join(root, 'movies')), ['by-name.jpx'], 'no temporary file left behind');
  });

  it('carries every frame XML box byte for byte in an asoc naming its compositing layer', async () => {
    const r = await movie('--out', 'movies/xml.jpx', 'frames/aia_000?.jp2');
    assert.equal(r.code, 0, r.text);
    const m = read(path.join(root, 'movies/xml.jpx'));
    const asocs = walk(m).filter((b) => b.type === 'asoc');
    assert.equal(asocs.length, 3);
    NAMES.forEach((n, i) => {
      const frame = read(path.join(root, 'frames', n));
      const meta = walk(frame).filter((b) => b.type === 'xml ' || b.type === 'asoc');
      const kids = walk(m, asocs[i].body, asocs[i].end);
      assert.equal(kids[0].type, 'nlst');
      assert.equal(u32(m, kids[0].body), 0x02000000 + i, 'nlst: compositing layer i');
      assert.equal(kids.length, 1 + meta.length);
      meta.forEach((b, j) => assert.deepEqual(m.subarray(kids[j + 1].at, kids[j + 1].end), frame.subarray(b.at, b.end)));
    });
    const text = Buffer.from(m).toString('latin1');
    assert.ok(text.includes('<DATE_OBS>2014-01-01T00:00:00.34</DATE_OBS>'));
  });

  it('--sort date orders frames by DATE-OBS / DATE_OBS / T_OBS', async () => {
    const r = await movie('--out', 'movies/by-date.jpx', '--sort', 'date', ...NAMES.map((n) => `frames/${n}`));
    assert.equal(r.code, 0, r.text);
    const m = read(path.join(root, 'movies/by-date.jpx'));
    assert.deepEqual(linksOf(m).urls, BY_DATE.map((n) => `../frames/${n}`));
    const firstXml = walk(m, walk(m).filter((b) => b.type === 'asoc')[0].body).find((b) => b.type === 'xml ');
    assert.ok(firstXml);
    assert.match(Buffer.from(m.subarray(firstXml.body, firstXml.end)).toString('utf8'), /<DATE_OBS>2014-01-01T00:00:00\.34</, 'the XML moved with its frame');
  });

  it('percent-encodes path segments, and --absolute writes file:// URLs', async () => {
    const rel = await movie('--out', 'movies/odd.jpx', 'odd dir/x #1%.jp2');
    assert.equal(rel.code, 0, rel.text);
    const [u] = linksOf(read(path.join(root, 'movies/odd.jpx'))).urls;
    assert.equal(u, '../odd%20dir/x%20%231%25.jp2');
    assert.equal(path.resolve(root, 'movies', decodeURIComponent(u)), path.join(root, 'odd dir', 'x #1%.jp2'));
    const abs = await movie('--out', 'movies/abs.jpx', '--absolute', 'frames');
    assert.equal(abs.code, 0, abs.text);
    const urls = linksOf(read(path.join(root, 'movies/abs.jpx'))).urls;
    assert.ok(urls.every((x) => x.startsWith('file:///')));
    assert.deepEqual(urls.map((x) => fileURLToPath(x)), NAMES.map((n) => path.join(root, 'frames', n)));
  });
});

describe('jpipd movie: embedded movies', () => {
  it('--embed copies each codestream into a jp2c box and has no fragment tables', async () => {
    const r = await movie('--out', 'movies/embed.jpx', '--embed', '--sort', 'date', 'frames/*.jp2');
    assert.equal(r.code, 0, r.text);
    const m = read(path.join(root, 'movies/embed.jpx'));
    const top = walk(m);
    assert.equal(top.filter((b) => b.type === 'ftbl' || b.type === 'dtbl').length, 0);
    const jp2c = top.filter((b) => b.type === 'jp2c');
    assert.deepEqual(
      jp2c.map((b) => m.subarray(b.body, b.end)),
      BY_DATE.map((n) => codestreamOf(read(path.join(root, 'frames', n)))),
    );
  });
});

describe('jpipd movie: refusals', () => {
  it('exits 2 on bad arguments, with a message and the usage', async () => {
    const cases: string[][] = [
      [],
      ['frames'],
      ['--out', 'movies/x.jpx'],
      ['--out', 'movies/x.jpx', '--bogus', 'frames'],
      ['--out', 'movies/x.jpx', '--sort', 'size', 'frames'],
      ['--out', 'movies/x.jpx', '--embed', '--absolute', 'frames'],
      ['--out', 'movies/x.jpx', 'no-such-folder'],
      ['--out', 'movies/x.jpx', 'frames/*.jpf'],
      ['--out', 'movies', 'frames'],
      ['--out', 'no-such-dir/x.jpx', 'frames'],
      ['--out', 'frames/aia_0001.jp2', '--force', 'frames'],
    ];
    for (const argv of cases) {
      const r = await movie(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.text}`);
      assert.match(r.text, /^jpipd: .+\nusage:/, argv.join(' '));
    }
    assert.ok(!fs.existsSync(path.join(root, 'movies/x.jpx')));
  });

  it('--sort date names the frames without a date (exit 2)', async () => {
    const r = await movie('--out', 'movies/x.jpx', '--sort', 'date', 'frames', 'odd dir/nodate.jp2');
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, /no DATE-OBS, DATE_OBS or T_OBS date in the XML of odd dir\/nodate\.jp2\n/);
  });

  it('refuses frames of another size, naming the frame (exit 1)', async () => {
    const r = await movie('--out', 'movies/x.jpx', 'frames', 'odd dir/rgb96.jp2');
    assert.equal(r.code, 1, r.text);
    assert.match(r.text, /odd dir\/rgb96\.jp2 is 96x64 with 3 component/);
    assert.ok(!fs.existsSync(path.join(root, 'movies/x.jpx')));
  });

  it('never overwrites an existing movie without --force, and replaces it with --force', async () => {
    const out = path.join(root, 'movies/keep.jpx');
    fs.writeFileSync(out, 'precious');
    const r = await movie('--out', 'movies/keep.jpx', 'frames');
    assert.equal(r.code, 2, r.text);
    assert.match(r.text, /keep\.jpx exists \(use --force to overwrite\)/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'precious');
    const f = await movie('--out', 'movies/keep.jpx', '--force', 'frames');
    assert.equal(f.code, 0, f.text);
    assert.equal(linksOf(read(out)).urls.length, 3);
  });
});

/**
 * Hyperlinked serving is the lead's slice: while scanTarget still refuses hyperlinked JPX, the linked
 * serve tests are skipped (decided here, at run time, by scanning a linked movie built from the fixtures).
 */
function hyperlinkedServingMissing(): string | false {
  const sources = NAMES.map((n) => new BufferSource(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'movie-frames', n)))));
  const frames = sources.map((s, i) => inspectFrame(s, NAMES[i]));
  const plan = planMovie(frames, sources, { mode: 'linked', urls: NAMES });
  const chunks: Uint8Array[] = [];
  writeMovie(plan, sources, (c) => chunks.push(new Uint8Array(c)));
  try {
    scanTarget(new BufferSource(new Uint8Array(Buffer.concat(chunks))));
    return false;
  } catch (e) {
    if (e instanceof Error && e.message.includes('unsupported: hyperlinked JPX')) return 'hyperlinked JPX serving has not landed yet (scanTarget refuses it)';
    return false;
  }
}

describe('jpipd movie: output served by jpipd', () => {
  let srv: TestServer;
  const skip = hyperlinkedServingMissing();

  before(async () => {
    const a = await movie('--out', 'movies/served.jpx', '--sort', 'date', 'frames');
    const b = await movie('--out', 'movies/served-embed.jpx', '--embed', '--sort', 'date', 'frames');
    assert.equal(a.code + b.code, 0, a.text + b.text);
    srv = await startTestServer({ root });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const target of ['movies/served.jpx', 'movies/served-embed.jpx']) {
    it(`serves every frame of ${target} and each decodes bit-exactly`, { skip: target.includes('embed') ? false : skip }, async () => {
      for (let i = 0; i < BY_DATE.length; i++) {
        const s = new JpipSession(srv.base, target);
        await s.open({ len: 0 });
        await s.fetchWindow({ stream: i, fsiz: '128,128' });
        const got = await decodeJ2k(reassembleCodestream(s.cache, i));
        const want = await decodeJ2k(codestreamOf(read(path.join(root, 'frames', BY_DATE[i]))));
        assert.deepEqual([got.width, got.height], [128, 128]);
        assert.deepEqual(got.pixels, want.pixels, `frame ${i} (${BY_DATE[i]})`);
        await s.close();
      }
    });
  }

  it('delivers the frames XML in the metadata bins', { skip }, async () => {
    const r = await fetch(`${srv.base}/movies/served.jpx?metareq=[*]!!&type=jpp-stream&len=2000000`);
    assert.equal(r.status, 200);
    const cache = new DataBinCache();
    for (const e of parseJppStream(new Uint8Array(await r.arrayBuffer()))) if (e.kind === 'message') cache.add(e);
    const text = cache
      .keys()
      .filter((k) => k.cls === 8)
      .map((k) => Buffer.from(cache.get(k)).toString('latin1'))
      .join('');
    for (const date of ['<DATE-OBS>2014-01-01T00:02:00.34</DATE-OBS>', '<DATE_OBS>2014-01-01T00:00:00.34</DATE_OBS>', '<T_OBS>2014-01-01T00:01:00.35Z</T_OBS>']) {
      assert.ok(text.includes(date), date);
    }
    assert.ok(!text.includes(root), 'no server path in the metadata');
  });
});
