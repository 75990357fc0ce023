"""What every CTF template is made of: the challenge, its randomness, and deterministic artefacts.

Randomness. A template draws from a `ChallengeRNG`: the `random.Random` interface over an
HMAC-SHA256 stream (counter mode), never the Mersenne Twister, whose state 624 outputs reveal.
The stream's key comes from the seed through PBKDF2-HMAC-SHA256 (`KDF_ITERATIONS`), then one
HMAC per purpose: `params` (every puzzle parameter, noise, decoys) and `flag` (the flag alone).
So an artefact, however much raw randomness it shows, reveals nothing about the flag stream nor
the seed, and the only attack left is to guess the seed, at one key derivation per guess: the
run's seed must be drawn at random from a large space (64 bits) for that to be out of reach.

Determinism. A seed gives one set of bytes on a given toolchain: archives carry a fixed
timestamp and owner, gzip headers no time nor name, and binaries are compiled from a fixed file
name in a fixed relative directory (`-ffile-prefix-map`, `-frandom-seed`, `SOURCE_DATE_EPOCH`).
The bytes of compressed data and binaries still depend on the zlib and gcc versions, which the
host records with the run.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import io
import os
import random
import shutil
import string
import struct
import subprocess
import tarfile
import tempfile
import textwrap
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

from clearinghouse.sandbox.bwrap import Network, Sandbox

Category = Literal["crypto", "forensics", "reverse", "web", "pwn"]
Difficulty = Literal["easy", "medium", "hard"]
CATEGORIES: tuple[Category, ...] = ("crypto", "forensics", "reverse", "web", "pwn")
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")

FLAG_ALPHABET = string.ascii_lowercase + string.digits
FLAG_LENGTH = 20  # 36**20 ≈ 2**103 flags
KDF_SALT = b"clearinghouse/ctf-templates/v2"
KDF_ITERATIONS = 50_000  # about 30 ms per seed: a seed search pays this per guess


# --- randomness ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def seed_key(seed: int) -> bytes:
    """The seed's master key: PBKDF2, so that guessing seeds costs a key derivation each."""
    return hashlib.pbkdf2_hmac("sha256", str(seed).encode(), KDF_SALT, KDF_ITERATIONS)


def _subkey(seed: int, purpose: str, template: str) -> bytes:
    return hmac.digest(seed_key(seed), f"{purpose}\0{template}".encode(), "sha256")


class _Stream:
    """HMAC-SHA256 in counter mode: a keyed pseudo-random byte stream (hand-written: a few
    lines over the standard library; no maintained deterministic-DRBG package does less)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0
        self._buffer = b""

    def take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hmac.digest(self._key, self._counter.to_bytes(8, "big"), "sha256")
            self._buffer += block
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def _uniform_below(stream: _Stream, n: int) -> int:
    """A uniform integer in [0, n) by rejection sampling (no modulo bias)."""
    bits = n.bit_length()
    while True:
        value = int.from_bytes(stream.take((bits + 7) // 8), "big") >> (-bits % 8)
        if value < n:
            return value


class ChallengeRNG(random.Random):
    """`random.Random`'s methods (randrange, choice, shuffle, randbytes...) over a keyed hash
    stream, plus `flag()`, drawn from a second, independent stream."""

    def __init__(self, seed: int, template: str) -> None:
        self._params = _Stream(_subkey(seed, "params", template))
        self._flags = _Stream(_subkey(seed, "flag", template))
        super().__init__()

    def seed(self, *args: object, **kwargs: object) -> None:
        """Ignored: the stream is keyed once, in the constructor."""

    def getstate(self) -> NoReturn:
        raise NotImplementedError("a ChallengeRNG is rebuilt from its seed, not saved")

    def setstate(self, state: object) -> NoReturn:
        raise NotImplementedError("a ChallengeRNG is rebuilt from its seed, not restored")

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        return int.from_bytes(self._params.take((k + 7) // 8), "big") >> (-k % 8)

    def random(self) -> float:
        return self.getrandbits(53) * 2.0**-53

    def flag(self, length: int = FLAG_LENGTH) -> str:
        """A fresh flag, `FLAG{` + `length` characters of [a-z0-9] + `}`."""
        chars = (
            FLAG_ALPHABET[_uniform_below(self._flags, len(FLAG_ALPHABET))] for _ in range(length)
        )
        return "FLAG{" + "".join(chars) + "}"

    def secret(self, n: int, alphabet: str = FLAG_ALPHABET) -> str:
        """A secret that is not a flag (a password, a token): from the flag stream too."""
        return "".join(alphabet[_uniform_below(self._flags, len(alphabet))] for _ in range(n))


# --- the challenge -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """A target service: started from `files` (mounted read-only at /service, hidden from the
    agent) inside the sample's private network, listening on 127.0.0.1:`port`."""

    cmd: list[str]
    files: dict[str, bytes]
    port: int = 8080


@dataclass(frozen=True)
class Challenge:
    template: str
    category: str
    seed: int
    prompt: str
    flag: str
    files: dict[str, bytes] = field(default_factory=dict)
    solution: str = ""  # a shell script run in /workspace that prints the flag
    service: Service | None = None
    difficulty: str = "medium"

    @property
    def network(self) -> Network:
        return Network.private if self.service else Network.none

    @property
    def id(self) -> str:
        return f"{self.template}-{self.seed}"

    def digest(self) -> str:
        """sha256 over everything the challenge is: prompt, flag, files, the service's files."""
        h = hashlib.sha256()

        def put(label: str, data: bytes) -> None:
            h.update(f"{label}\0{len(data)}\0".encode())
            h.update(data)

        put("prompt", self.prompt.encode())
        put("flag", self.flag.encode())
        put("solution", self.solution.encode())
        for name, data in sorted(self.files.items()):
            put(f"file:{name}", data)
        if self.service is not None:
            put("cmd", "\0".join(self.service.cmd).encode())
            put("port", str(self.service.port).encode())
            for name, data in sorted(self.service.files.items()):
                put(f"service:{name}", data)
        return h.hexdigest()


@dataclass(frozen=True)
class Draft:
    """What a template's builder returns; `Template` adds the name, category and difficulty."""

    prompt: str
    flag: str
    files: dict[str, bytes] = field(default_factory=dict)
    solution: str = ""
    service: Service | None = None


@dataclass(frozen=True)
class Template:
    name: str
    category: Category
    difficulty: Difficulty
    summary: str
    build: Callable[[ChallengeRNG, int], Draft]

    def __call__(self, rng: ChallengeRNG, seed: int) -> Challenge:
        d = self.build(rng, seed)
        return Challenge(
            self.name,
            self.category,
            seed,
            d.prompt,
            d.flag,
            d.files,
            d.solution,
            d.service,
            self.difficulty,
        )


def template(
    category: Category, difficulty: Difficulty, summary: str
) -> Callable[[Callable[[ChallengeRNG, int], Draft]], Template]:
    def wrap(build: Callable[[ChallengeRNG, int], Draft]) -> Template:
        return Template(build.__name__, category, difficulty, summary, build)

    return wrap


# --- deterministic artefacts ---------------------------------------------------------------------

FIXED_DATE = (2024, 1, 1, 0, 0, 0)
FIXED_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z


def zip_bytes(entries: Iterable[tuple[str, bytes]], *, compress: bool = True) -> bytes:
    """A zip whose bytes depend only on its entries (fixed dates, modes and creator)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            info.compress_type = method
            z.writestr(info, data, compresslevel=9 if compress else None)
    return buf.getvalue()


def tar_bytes(entries: Iterable[tuple[str, bytes]], *, directories: Sequence[str] = ()) -> bytes:
    """An uncompressed tar with fixed times, owners and modes (GNU format: no pax headers)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name in directories:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_EPOCH, 0, 0, "", ""
            t.addfile(info)
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_EPOCH, 0, 0, "", ""
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no time and no file name in its header."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_rgb(width: int, height: int, pixels: bytes, *extra: bytes) -> bytes:
    """An 8-bit RGB PNG (filter 0 on every row) with `extra` chunks before the image data."""
    stride = width * 3
    raw = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + b"".join(extra)
        + png_chunk(b"IDAT", zlib.compress(raw, 9))
        + png_chunk(b"IEND", b"")
    )


def compile_c(source: str, *flags: str, optimize: str = "-O0") -> bytes:
    """Compile `source` with gcc into an ELF whose bytes depend only on the source, the flags
    and the toolchain: a fixed file name in a temporary directory mapped to '.', a fixed
    random seed, and SOURCE_DATE_EPOCH."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise RuntimeError("gcc is not installed: binary challenges are compiled when generated")
    with tempfile.TemporaryDirectory(prefix="ctf-build-") as tmp:
        Path(tmp, "chall.c").write_text(source)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "SOURCE_DATE_EPOCH": str(FIXED_EPOCH),
        }
        seed = hashlib.sha256(source.encode()).hexdigest()[:16]
        subprocess.run(
            [
                gcc,
                optimize,
                "-w",
                f"-ffile-prefix-map={tmp}=.",
                f"-frandom-seed={seed}",
                *flags,
                "chall.c",
                "-o",
                "chall",
            ],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
        )
        return Path(tmp, "chall").read_bytes()


def c_bytes(data: bytes) -> str:
    """A C initializer list for `data`."""
    return ", ".join(str(b) for b in data)


def is_elf(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


# --- sandbox plumbing ----------------------------------------------------------------------------


def install_files(box: Sandbox, files: dict[str, bytes]) -> None:
    """Put a challenge's files in the sandbox workdir, owned by the sandbox user."""
    for name, data in files.items():
        box.put_file(name, data, executable=is_elf(data))


def materialize_service(service: Service, into: Path) -> Path:
    """Write a service's files to a host directory (ELF files executable) and return it."""
    into.mkdir(parents=True, exist_ok=True)
    for name, data in service.files.items():
        path = into / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if is_elf(data) else 0o644)
    return into


# A forking socket server for the pwn binaries: each connection gets its own process with the
# socket as stdin and stdout; after it exits, what the client still sends is drained before the
# close, so an unread byte never turns into a reset that eats the reply.
SOCKET_SERVER = textwrap.dedent("""\
    import socket, subprocess, threading
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 8080))
    s.listen(64)
    def serve(c):
        with c:
            p = subprocess.Popen(['/service/chall'], stdin=c.fileno(), stdout=c.fileno(),
                                 stderr=subprocess.DEVNULL, cwd='/service')
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill(); p.wait()
            try:
                c.shutdown(socket.SHUT_WR)
                c.settimeout(1)
                while c.recv(65536):
                    pass
            except OSError:
                pass
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    """)


def pwn_service(binary: bytes, flag: str, *, flag_name: str = "flag.txt") -> Service:
    return Service(
        ["python3", "/service/server.py"],
        {"server.py": SOCKET_SERVER.encode(), "chall": binary, flag_name: (flag + "\n").encode()},
    )


def python_solution(*parts: str) -> str:
    """A reference solution in Python (its parts each dedented, then joined), as the shell
    script the sandbox runs."""
    script = "\n".join(textwrap.dedent(part).strip("\n") for part in parts)
    return "python3 - <<'PY'\n" + script + "\nPY"


# Solver-side helpers, pasted into reference solutions (the sandbox has Python's standard
# library and binutils, not pwntools or pyelftools).
ELF_HELPERS = textwrap.dedent("""\
    import re, socket, struct, subprocess
    def elf_symbol(path, name):
        d = open(path, 'rb').read()
        shoff = struct.unpack_from('<Q', d, 0x28)[0]
        shentsize, shnum = struct.unpack_from('<HH', d, 0x3a)
        secs = [struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize) for i in range(shnum)]
        for sec in secs:
            if sec[1] != 2:
                continue
            strtab = secs[sec[6]][4]
            for off in range(sec[4], sec[4] + sec[5], 24):
                st_name, _, _, shndx, value, size = struct.unpack_from('<IBBHQQ', d, off)
                end = d.index(b'\\0', strtab + st_name)
                if d[strtab + st_name:end].decode() == name:
                    if 0 < shndx < len(secs) and secs[shndx][1] != 8:
                        home = secs[shndx]
                        start = home[4] + value - home[3]
                        return value, d[start:start + size]
                    return value, b''
        raise KeyError(name)
    def disassemble(path, function=None):
        out = subprocess.run(['objdump', '-d', '--no-show-raw-insn', path],
                             capture_output=True, text=True, check=True).stdout
        if function is None:
            return out
        m = re.search(r'<' + re.escape(function) + r'>:\\n(.*?)\\n\\n', out, re.S)
        return m.group(1)
    def exchange(payload, port=8080, timeout=10):
        s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = b''
        try:
            while chunk := s.recv(65536):
                out += chunk
        except OSError:
            pass
        s.close()
        return out
    FLAG = re.compile(rb'FLAG\\{[a-z0-9]+\\}')
    """)


def words(rng: random.Random, n: int) -> list[str]:
    pool = (
        "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
        "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
    ).split()
    return [rng.choice(pool) for _ in range(n)]


# Plain English for ciphers that are broken by letter statistics (written for this module).
ENGLISH = (
    "The operations team met early on Monday to review the incident from the previous week. "
    "Several servers in the northern data centre had stopped answering requests for almost an "
    "hour, and the first reports suggested a failed storage controller. Later analysis showed "
    "that an old maintenance script had been started by mistake, and that it removed the "
    "routing table on every machine it could reach. Nobody noticed at first because the "
    "monitoring system itself depended on the same network. The engineers agreed that the "
    "script should have been deleted years ago, that every change must be reviewed by a second "
    "person, and that the monitoring must run somewhere else. They also wrote down what went "
    "well: the backup links worked, the customers were told quickly, and the recovery steps "
    "were clear enough that a new member of the team could follow them at night. The manager "
    "thanked everyone for their patience and asked for the final report before the end of the "
    "month, with a short summary that the whole company could read and understand. In the "
    "afternoon the security group looked at a different problem, a phishing message that had "
    "reached several hundred people in the finance department. The message claimed to come "
    "from a known supplier and asked for an urgent payment to a new bank account. Two people "
    "replied before the mail filter learned to block it, but neither of them sent any money. "
    "The group decided to run a short training session for the department, to add a warning "
    "banner to every message from outside the company, and to call suppliers on a known "
    "number before changing any payment details. Finally the team discussed the plan for the "
    "coming quarter, which included moving the old file servers to the new storage system, "
    "replacing the remaining laptops that could not receive updates, and testing the disaster "
    "recovery site with a real failover during a quiet weekend"
).split(". ")
