"""What the benchmarks share: a throw-away Django environment, sample e-policies, statistics, the machine.

A bench never touches the developer's ./var: before Django is set up it points EPOLICY_VAR_DIR, the
database and every storage location at a temporary directory, migrates a fresh SQLite database there and
creates the development PKI in it. Worker processes (started with "spawn") inherit those environment
variables and set Django up against the same SQLite file and storage.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

# Set by prepare_environment(); a spawned worker sees it in its inherited environment.
_BENCH_DIR_ENV = "EPOLICY_BENCH_DIR"


# ---------------------------------------------------------------------------------------------------------
# The environment


def prepare_environment(keep: bool = False) -> Path:
    """Point the settings at a fresh temporary directory, set Django up, migrate, create the PKI.

    Returns the directory; it is removed at exit unless `keep`.
    """
    base = Path(tempfile.mkdtemp(prefix="epolicy-bench-"))
    if not keep:
        import atexit
        import shutil

        atexit.register(shutil.rmtree, base, ignore_errors=True)
    env = {
        _BENCH_DIR_ENV: str(base),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EPOLICY_VAR_DIR": str(base),
        # Whatever the shell says: the bench measures the embedded default (SQLite in WAL mode).
        "EPOLICY_DATABASE_URL": f"sqlite:///{base / 'bench.sqlite3'}",
        "EPOLICY_ARCHIVE_DIR": str(base / "archive"),
        "EPOLICY_ARCHIVE_BACKUP_DIR": str(base / "archive-backup"),
        "EPOLICY_SIGNING_KEY_DIR": str(base / "keys"),
        "EPOLICY_LOG_LEVEL": os.environ.get("EPOLICY_LOG_LEVEL", "WARNING"),
    }
    os.environ.update(env)
    # Settings are read at import: nothing from Django may be imported before this point.
    setup_django()

    from django.core.management import call_command

    from epolicy.signing.pki import pki_init

    call_command("migrate", verbosity=0)
    pki_init()
    return base


def setup_django() -> None:
    """django.setup() for a process whose environment prepare_environment() has set (a worker)."""
    if _BENCH_DIR_ENV not in os.environ:
        raise RuntimeError("prepare_environment() must run first: it points Django at a throw-away directory")
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    import django

    django.setup()


# ---------------------------------------------------------------------------------------------------------
# Sample documents: distinct e-policies, deterministic from their index

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
_GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华建国志红玉兰辉鹏飞宇浩然思远子涵欣怡晨阳俊"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋蒙陕吉闽贵粤川青藏琼宁"
_DISTRICTS = ("海淀区中关村南大街", "朝阳区建国路", "浦东新区世纪大道", "天河区天河路", "武侯区人民南路")
_MODELS = (
    ("示例牌 SL7200EV 纯电动轿车", "纯电动", "1,630 千克"),
    ("示例牌 SH7152 轿车", "汽油", "1,285 千克"),
    ("示例牌 SC6481 多用途乘用车", "插电式混合动力", "1,905 千克"),
    ("示例牌 SV7180 轿车", "汽油", "1,410 千克"),
)
_AGREEMENTS = (
    "本保单为电子保单，投保人可通过保险人官方网站或扫描保单二维码查询、下载并验证保单真伪。",
    "被保险机动车行驶证载明的使用性质为家庭自用，如使用性质改变导致危险程度显著增加，应及时通知保险人。",
    "被保险机动车在保险期间内转让的，受让人应及时通知保险人办理批改手续。",
    "本保单项下的代收车船税已按当地税务机关规定的标准代收，完税信息以税务机关系统记录为准。",
)
_NOTICES = (
    "本保险合同由保险条款、投保单、保险单、批单和特别约定组成。",
    "收到本保险单后，请立即核对，如有不符或疏漏，请在 48 小时内通知保险人并办理变更或补充手续；"
    "超过 48 小时未通知的，视为投保人无异议。",
    "投保人应如实告知对保险费计算有影响的或被保险机动车因改装、加装、使用性质改变等导致危险程度增加的"
    "重要事项，并及时通知保险人办理批改手续。",
    "被保险人应当在交通事故发生后及时通知保险人。",
    "请通过保险人官方网站或扫描本保险单二维码验证保险单真伪。",
)
_DIGITS_UPPER = "零壹贰叁肆伍陆柒捌玖"


@contextlib.contextmanager
def library_fixes(enabled: bool) -> Iterator[None]:
    """Run a block with or without the corrections the signing app makes to its libraries at start-up
    (asn1crypto's indefinite-length test, its name comparisons and the certificates signatures carry
    kept per process, the one-pass hex string, name and white-space readers). Baselines are measured as
    the libraries ship (`enabled=False`); the platform's pipeline runs as deployed (`True`)."""
    from epolicy.signing import asn1certs, asn1fix, asn1names, hexstrings, pdftokens

    if enabled:
        asn1fix.apply()
        asn1names.install()
        asn1certs.install()
        hexstrings.install()
        pdftokens.install()
    else:
        asn1fix.restore()
        asn1names.uninstall()
        asn1certs.uninstall()
        hexstrings.uninstall()
        pdftokens.uninstall()
    try:
        yield
    finally:
        asn1fix.apply()
        asn1names.install()
        asn1certs.install()
        hexstrings.install()
        pdftokens.install()


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _upper_yuan(whole_yuan: int) -> str:
    """Whole yuan (< 10 000) in financial capitals: 1305 -> 壹仟叁佰零伍元整."""
    units = ("仟", "佰", "拾", "")
    digits = f"{whole_yuan:04d}"
    out = ""
    zero = False
    for digit, unit in zip(digits, units, strict=True):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS_UPPER[int(digit)] + unit
    return f"{out or '零'}元整"


def policy_number(index: int) -> str:
    return f"PDZA2026{11_0000_0000_0000 + index:014d}"


def sample_epolicy(index: int) -> Any:
    """A distinct, realistic e-policy (display-ready strings, personal data masked as callers mask it).

    Names, plate, vehicle, premium, period and special agreements vary with `index`; the layout stays a
    two-page 交强险 e-policy, as issued.
    """
    from epolicy.documents.model import EPolicyData, Field, InsurerInfo, Section, Table

    rnd = random.Random(index)  # deterministic: the same index gives the same document in every process
    insurer = InsurerInfo.from_settings()
    number = policy_number(index)
    holder = rnd.choice(_SURNAMES) + "".join(rnd.choice(_GIVEN) for _ in range(rnd.randint(1, 2)))
    id_masked = f"{rnd.randint(110000, 650000)}********{rnd.randint(0, 9999):04d}"
    phone = f"1{rnd.choice('3456789')}{rnd.randint(0, 9)}****{rnd.randint(0, 9999):04d}"
    plate = f"{rnd.choice(_PROVINCES)}{rnd.choice('ABCDEFG')}·{rnd.choice('DF')}{rnd.randint(10000, 99999)}"
    model, energy, mass = rnd.choice(_MODELS)
    vin = f"LSV{rnd.choice('ABCDEFGH')}{rnd.randint(1000, 9999)}{rnd.choice('JKLMN')}2******"
    start = dt.date(2026, 11, 6) + dt.timedelta(days=rnd.randint(0, 300))
    end = start + dt.timedelta(days=364)
    base_fen = 95_000
    floating = rnd.choice((-30, -20, -10, 0, 10, 30))
    premium_fen = base_fen * (100 + floating) // 100
    tax_fen = rnd.choice((36_000, 42_000, 45_000, 48_000))
    total_fen = premium_fen + tax_fen
    confirmed = dt.datetime(2026, 11, 5, 9, 0) + dt.timedelta(seconds=rnd.randint(0, 86_000))
    limits = Table(
        header=("保险责任", "被保险人有责任时限额", "被保险人无责任时限额"),
        rows=(
            ("死亡伤残赔偿限额", "180,000.00 元", "18,000.00 元"),
            ("医疗费用赔偿限额", "18,000.00 元", "1,800.00 元"),
            ("财产损失赔偿限额", "2,000.00 元", "100.00 元"),
            ("合计", "200,000.00 元", "19,900.00 元"),
        ),
    )
    address = f"{rnd.choice(_DISTRICTS)}{rnd.randint(1, 99)}号院*号楼*单元"
    return EPolicyData(
        policy_number=number,
        product_title="机动车交通事故责任强制保险单（电子保单）",
        confirmed_at=f"{confirmed:%Y-%m-%d %H:%M:%S}",
        prompt=(
            "收到本保险单后请立即核对，如有不符或疏漏，请及时通知保险人并办理变更或补充手续。"
            "本保险单为电子保单，与纸质保险单具有同等法律效力。"
        ),
        insurer=insurer,
        sections=(
            Section(
                title="投保人信息",
                fields=(
                    Field("投保人", holder),
                    Field("证件号码", id_masked),
                    Field("被保险人", holder),
                    Field("联系电话", phone),
                    Field("住址", address),
                ),
            ),
            Section(
                title="标的信息",
                fields=(
                    Field("号牌号码", plate),
                    Field("机动车种类", "客车"),
                    Field("车辆识别代号", vin),
                    Field("使用性质", "家庭自用"),
                    Field("发动机号", f"EA{rnd.randint(100, 999)}****"),
                    Field("核定载客", f"{rnd.choice((5, 5, 5, 7))} 人"),
                    Field("厂牌型号", model),
                    Field("整备质量", mass),
                    Field("能源种类", energy),
                ),
            ),
            Section(title="保险责任信息", table=limits),
            Section(title="特别约定", paragraphs=tuple(rnd.sample(_AGREEMENTS, rnd.randint(1, 3)))),
            Section(
                title="保险期间",
                fields=(
                    Field(
                        "保险期间",
                        f"自 {start:%Y 年 %m 月 %d 日} 00:00 起至 {end:%Y 年 %m 月 %d 日} 24:00 止",
                    ),
                ),
            ),
            Section(
                title="保险合同争议处理方式",
                paragraphs=(
                    "诉讼：因履行本合同发生的争议，由当事人协商解决；协商不成的，依法向人民法院起诉。",
                ),
            ),
            Section(
                title="代收车船税信息",
                fields=(
                    Field("纳税人识别号", id_masked),
                    Field("完税凭证号", "—"),
                    Field("当年应缴", _yuan(tax_fen)),
                    Field("往年补缴", "¥0.00"),
                    Field("滞纳金", "¥0.00"),
                    Field("车船税合计", _yuan(tax_fen)),
                ),
            ),
            Section(
                title="保险人信息",
                fields=(
                    Field("保险人名称", insurer.name),
                    Field("统一社会信用代码", insurer.uscc),
                    Field("公司地址", insurer.address),
                    Field("邮政编码", insurer.postcode),
                    Field("服务电话", insurer.hotline),
                    Field("网址", insurer.website),
                ),
            ),
        ),
        important_notices=_NOTICES,
        verify_url=f"{insurer.website}/v/{number}?c={rnd.getrandbits(32):08x}",
        premium_total=_yuan(total_fen),
        premium_upper=_upper_yuan(total_fen // 100),
    )


def retention() -> dt.date:
    """The retention date archive_put is given (that of a one-year policy issued now)."""
    from epolicy.archive.services import retention_until

    start = dt.date.today()
    return retention_until(start, start + dt.timedelta(days=364))


# ---------------------------------------------------------------------------------------------------------
# Checking what a bench produced


def check_archived(pks: Sequence[int], sample: int) -> dict[str, Any]:
    """Read back `sample` evenly spread archived documents (0: all) and verify each with verify_pdf.

    Also checks that every document the bench archived is registered (nothing lost to concurrent writers).
    """
    from epolicy.archive.models import ArchivedObject
    from epolicy.archive.services import archive_read
    from epolicy.signing.verify import verify_pdf

    registered = ArchivedObject.objects.filter(pk__in=pks).count()
    chosen = spread(pks, sample)
    failures: list[dict[str, str]] = []
    genuine = 0
    found = {obj.pk: obj for obj in ArchivedObject.objects.filter(pk__in=chosen)}
    for pk in chosen:
        obj = found.get(pk)
        if obj is None:
            failures.append({"key": f"pk {pk}", "code": "not registered"})
            continue
        report = verify_pdf(archive_read(obj))
        if report.genuine:
            genuine += 1
        else:
            failures.append({"key": obj.key, "code": report.code})
    return {
        "produced": len(pks),
        "registered": registered,
        "checked": len(chosen),
        "genuine": genuine,
        "failures": failures,
        "ok": registered == len(pks) and not failures and bool(chosen),
    }


def spread(items: Sequence[Any], sample: int) -> list[Any]:
    """`sample` items spread evenly over `items` (all of them when sample is 0 or large enough)."""
    if sample <= 0 or sample >= len(items):
        return list(items)
    step = len(items) / sample
    return [items[int(i * step)] for i in range(sample)]


# ---------------------------------------------------------------------------------------------------------
# Statistics and reporting


def ms_stats(values: Iterable[float]) -> dict[str, float]:
    """median, p90, mean, min and max of durations in seconds, in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {"median": 0.0, "p90": 0.0, "mean": 0.0, "min": 0.0, "max": 0.0}
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return {
        "median": round(statistics.median(ms), 2),
        "p90": round(p90, 2),
        "mean": round(statistics.fmean(ms), 2),
        "min": round(ms[0], 2),
        "max": round(ms[-1], 2),
    }


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


def machine() -> dict[str, Any]:
    """The machine and the library versions, for the results file."""
    from importlib.metadata import PackageNotFoundError, version

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    except (OSError, ValueError):
        pass
    versions = {}
    for dist in ("pyHanko", "pyhanko-certvalidator", "reportlab", "cryptography", "Django"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "code": _code_version(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "niceness": os.nice(0),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _code_version() -> dict[str, Any]:
    """The commit measured, and whether the measured code (epolicy/, config/) differed from it."""
    import subprocess

    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--", "epolicy", "config") if commit else ""
    return {"commit": commit or None, "uncommitted_changes": bool(changed)}


def base_parser(description: str, *, default_docs: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--docs", type=int, default=default_docs, help=f"documents (default {default_docs})")
    parser.add_argument("--smoke", action="store_true", help="a few documents, to check the bench runs (CI)")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (printed)")
    return parser


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(parts))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def describe_machine(info: dict[str, Any]) -> str:
    versions = info["versions"]
    return (
        f"{info['cpus_usable']} CPU ({info['cpu_model'] or 'unknown model'}), {info['memory_gib']} GiB, "
        f"load {info['load_average'][0]}; Python {info['python']}, pyHanko {versions['pyHanko']}, "
        f"ReportLab {versions['reportlab']}, cryptography {versions['cryptography']}"
    )


def load_warning(info: dict[str, Any]) -> str | None:
    """A warning when other processes were busy as the bench started (its wall-clock figures suffer)."""
    load = info["load_average"][0]
    cpus = info["cpus_usable"] or 1
    if load <= 0.5 * cpus:
        return None
    return (
        f"warning: load average {load} on {cpus} CPUs before the bench started: other processes compete "
        "for the CPUs, so the wall-clock figures are pessimistic (the cpu column much less so)"
    )


class Stopwatch:
    """Durations of the named stages of one document (time.perf_counter), its total, and the CPU time
    the process spent on it ("cpu", time.process_time): other load on the machine disturbs that figure far
    less than the wall-clock ones."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._cpu = time.process_time()
        self._last = time.perf_counter()
        self._first = self._last

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self._last
        self._last = now

    def done(self) -> dict[str, float]:
        self.stages["total"] = self._last - self._first
        self.stages["cpu"] = time.process_time() - self._cpu
        return self.stages
