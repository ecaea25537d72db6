#!/usr/bin/env node
// Generates a large, realistic Nix file for parser benchmarks.
//
//   node bench/gen-parse.mjs OUT.nix [SIZE_MB]        write the file (default ~10 MB)
//   node bench/gen-parse.mjs OUT.nix [SIZE_MB] --bench
//        also time tsnix's parser (needs `npm run build`) and, when it is
//        installed, `nix-instantiate --parse OUT.nix > /dev/null`.
//
// The code looks like nixpkgs: package sets built from lambdas with formals,
// `rec` attribute sets, nested attribute paths, strings with interpolation,
// indented strings, lists, `let`, `with`, `if`, `inherit`, selects with `or`,
// comments, paths and operators.  Every variable is bound (the file starts with
// `with lib;`), so CppNix's --parse, which also binds variables, accepts it.
// The output is deterministic.

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const bench = args.includes('--bench');
const pos = args.filter((a) => !a.startsWith('--'));
const out = pos[0];
if (!out) {
  process.stderr.write('usage: node bench/gen-parse.mjs OUT.nix [SIZE_MB] [--bench]\n');
  process.exit(2);
}
const targetBytes = Math.round(Number(pos[1] ?? 10) * 1024 * 1024);

let seed = 42;
const rnd = (n) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};
const pick = (a) => a[rnd(a.length)];

const words = [
  'alpha', 'beta', 'gamma', 'delta', 'openssl', 'zlib', 'curl', 'python3', 'perl', 'gtk3', 'qt5', 'boost',
  'cmake', 'ninja', 'meson', 'pkg-config', 'libxml2', 'sqlite', 'glib', 'ncurses', 'readline', 'libffi',
];
const licenses = ['mit', 'bsd3', 'gpl2Plus', 'gpl3Only', 'asl20', 'lgpl21Plus', 'mpl20'];
const ident = () => pick(words).replace(/-/g, '_') + rnd(1000);
const hash = () => {
  let s = '';
  for (let i = 0; i < 52; i++) s += '0123456789abcdfghijklmnpqrsvwxyz'[rnd(32)];
  return s;
};

function expr(depth) {
  if (depth <= 0) {
    switch (rnd(8)) {
      case 0:
        return String(rnd(100000));
      case 1:
        return `"${pick(words)}-${rnd(100)}"`;
      case 2:
        return `${pick(['true', 'false', 'null'])}`;
      case 3:
        return `cfg.${pick(words).replace(/-/g, '_')}`;
      case 4:
        return `./${pick(words)}/default.nix`;
      case 5:
        return `"\${pkgs.${pick(words).replace(/-/g, '_')}}/bin/${pick(words)}"`;
      case 6:
        return `${(rnd(1000) / 10).toFixed(1)}`;
      default:
        return `args.${pick(words).replace(/-/g, '_')} or ${rnd(10)}`;
    }
  }
  switch (rnd(10)) {
    case 0:
      return `if cfg.enable${rnd(10)} then ${expr(depth - 1)} else ${expr(depth - 1)}`;
    case 1:
      return `[ (${expr(depth - 1)}) ${expr(0)} (${expr(depth - 1)}) ]`;
    case 2:
      return `{ ${ident()} = ${expr(depth - 1)}; inherit (cfg) ${ident()}; "${pick(words)}" = ${expr(0)}; }`;
    case 3:
      return `let x${depth} = ${expr(depth - 1)}; in x${depth}`;
    case 4:
      return `lib.optionalString (cfg.a${rnd(9)} != null && !cfg.b) "--with-${pick(words)}=\${toString cfg.c}"`;
    case 5:
      return `(${expr(depth - 1)}) // { ${pick(words).replace(/-/g, '_')}.enable = true; }`;
    case 6:
      return `map (x: x + ${rnd(10)}) [ ${expr(0)} ${expr(0)} ]`;
    case 7:
      return `builtins.length (lib.filter (p: p ? meta && p.meta.broken or false) (${expr(depth - 1)}))`;
    case 8:
      return `with pkgs; [ ${pick(words).replace(/-/g, '_')} ${pick(words).replace(/-/g, '_')} ] ++ lib.optional stdenv.isLinux ${pick(words).replace(/-/g, '_')}`;
    default:
      return `${rnd(100)} * ${rnd(100)} - ${rnd(10)} / 2 + (if ${rnd(5)} < ${rnd(5)} then 1 else 0)`;
  }
}

function pkg(i) {
  const name = `${pick(words)}-${i}`;
  const v = `${rnd(10)}.${rnd(30)}.${rnd(100)}`;
  return `
  # ${name}: generated package ${i}
  ${name.replace(/-/g, '_')} = { lib, stdenv, fetchurl, ${pick(words).replace(/-/g, '_')} ? null, enableDocs ? false, ... }@args:
    stdenv.mkDerivation rec {
      pname = "${name}";
      version = "${v}";
      src = fetchurl {
        url = "https://example.org/releases/\${pname}/\${pname}-\${version}.tar.${pick(['gz', 'xz', 'bz2'])}";
        sha256 = "${hash()}";
      };
      nativeBuildInputs = [ pkgs.${pick(words).replace(/-/g, '_')} pkgs.pkg-config ];
      buildInputs = with pkgs; [ ${pick(words).replace(/-/g, '_')} ${pick(words).replace(/-/g, '_')} ]
        ++ lib.optionals stdenv.isDarwin [ pkgs.darwin.apple_sdk.frameworks.Security ]
        ++ lib.optional (args.${pick(words).replace(/-/g, '_')} or null != null) args.${pick(words).replace(/-/g, '_')};
      configureFlags = [
        "--prefix=\${placeholder "out"}"
        "--enable-${pick(words)}"
        (lib.enableFeature enableDocs "docs")
      ] ++ lib.optional (!stdenv.hostPlatform.isStatic) "--enable-shared";
      /* Multi-line comment for ${name}:
         upstream needs a patch. */
      patches = [ ./patches/${name}-fix-build.patch ];
      postPatch = ''
        substituteInPlace Makefile \\
          --replace "/usr/bin/${pick(words)}" "\${pkgs.coreutils}/bin/${pick(words)}"
        patchShebangs ./scripts
      '';
      postInstall = ''
        mkdir -p $out/share/doc/\${pname}
        cp -r docs/* $out/share/doc/\${pname}/
        \${lib.optionalString enableDocs "make install-docs"}
      '';
      doCheck = stdenv.buildPlatform == stdenv.hostPlatform && version != "0.0.0";
      enableParallelBuilding = true;
      NIX_CFLAGS_COMPILE = toString (map (d: "-I\${d}/include") buildInputs);
      passthru.tests.version = ${expr(2)};
      passthru.updateScript = ./update.sh;
      extra = ${expr(3)};
      meta = with lib; {
        description = "The ${name} library, version \${version}";
        homepage = "https://example.org/${name}";
        license = licenses.${pick(licenses)};
        maintainers = with maintainers; [ ${ident()} ${ident()} ];
        platforms = platforms.${pick(['unix', 'linux', 'all'])};
        broken = stdenv.isAarch64 && versionOlder version "${rnd(5)}.0";
      };
    };
`;
}

const header = `# Generated by bench/gen-parse.mjs: a nixpkgs-like package set for parser benchmarks.
{ lib, pkgs, stdenv ? pkgs.stdenv, fetchurl ? pkgs.fetchurl, config ? { }, ... }@args:

with lib;

let
  cfg = config.generated or { enable = true; };
  inherit (lib) optional optionals optionalString;
  mkPackage = { name, version ? "1.0", deps ? [ ], ... }@a:
    stdenv.mkDerivation ({
      inherit name version;
      buildInputs = deps;
    } // removeAttrs a [ "deps" ]);
in
rec {
`;
const chunks = [header];
let size = header.length;
for (let i = 0; size < targetBytes; i++) {
  const p = pkg(i);
  chunks.push(p);
  size += p.length;
}
chunks.push('}\n');
fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
fs.writeFileSync(out, chunks.join(''));
const bytes = fs.statSync(out).size;
process.stdout.write(`wrote ${out}: ${(bytes / 1024 / 1024).toFixed(1)} MB\n`);

if (bench) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dist = path.join(here, '..', 'dist', 'grammar', 'index.js');
  const text = fs.readFileSync(out).toString('latin1');
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const t0 = performance.now();
  const g = await import(pathToFileURL(dist).href);
  const t1 = performance.now();
  const src = new g.Source(path.resolve(out), path.resolve(out), text);
  const opts = { basePath: path.dirname(path.resolve(out)) };
  g.parse(new g.Source(null, '«string»', '1'), opts);
  const t2 = performance.now();
  const wall = [];
  const cpus = [];
  let e;
  for (let i = 0; i < 5; i++) {
    const a = performance.now();
    const c = cpu();
    e = g.parse(src, opts);
    cpus.push(cpu() - c);
    wall.push(performance.now() - a);
  }
  const pc = cpu();
  g.printExpr(e);
  const printCpu = cpu() - pc;
  const fmt = (xs) => xs.map((t) => t.toFixed(0)).join(' / ');
  process.stdout.write(
    `tsnix: load ${(t1 - t0).toFixed(0)} ms, parser construction + first parse of '1' ${(t2 - t1).toFixed(0)} ms\n` +
      `tsnix: parse wall ${fmt(wall)} ms; CPU ${fmt(cpus)} ms (best ${Math.min(...cpus).toFixed(0)} ms); print CPU ${printCpu.toFixed(0)} ms\n`,
  );
  const which = spawnSync('sh', ['-c', 'command -v nix-instantiate && command -v bash'], { encoding: 'utf8' });
  if (which.status === 0) {
    const res = [];
    for (let i = 0; i < 3; i++) {
      const r = spawnSync(
        'bash',
        ['-c', `TIMEFORMAT='%R %U %S'; time nix-instantiate --parse "$1" > /dev/null`, 'bash', path.resolve(out)],
        { encoding: 'utf8' },
      );
      const m = /([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
      if (r.status !== 0 || !m) break;
      res.push([Number(m[1]) * 1000, (Number(m[2]) + Number(m[3])) * 1000]);
    }
    if (res.length) {
      process.stdout.write(
        `nix-instantiate --parse (whole process: parse, bind, print): wall ${fmt(res.map((r) => r[0]))} ms; ` +
          `CPU ${fmt(res.map((r) => r[1]))} ms\n`,
      );
    }
  }
}
