"""The repository's documents against what they describe: benchmarks/README.md documents every
benchmark that ``make bench`` runs (skipped where the repository is not at hand, e.g. an sdist)."""

from __future__ import annotations

import re

import pytest

from tests._markdown import fenced_blocks
from tests.conftest import REPO


def test_every_benchmark_of_make_bench_has_a_section_in_benchmarks_readme():
    makefile, readme = REPO / "Makefile", REPO / "benchmarks" / "README.md"
    if not (makefile.exists() and readme.exists()):
        pytest.skip("no Makefile or benchmarks/README.md beside the tests")
    target = makefile.read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    scripts = set(re.findall(r"benchmarks/(\w+\.py)", target))
    headed = set(re.findall(r"^## `(\w+\.py)`", readme.read_text(), flags=re.MULTILINE))
    assert scripts and not scripts - headed, f"no section for {sorted(scripts - headed)}"


def test_every_fit_config_key_has_a_flag_or_is_named_in_the_readme():
    import dataclasses

    from biovae.cli.options import DATA_FLAGS, FIT_OPTIONS
    from biovae.config import FitConfig

    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("no README.md beside the tests")
    text = readme.read_text(encoding="utf-8")
    flagged = {o.field for o in FIT_OPTIONS} | {f"data.{name}" for _, name, _ in DATA_FLAGS}

    def keys(cls, prefix=""):
        for f in dataclasses.fields(cls):
            table = f.default_factory
            if table is not dataclasses.MISSING and dataclasses.is_dataclass(table):
                yield from keys(table, f"{prefix}{f.name}.")
            else:
                yield prefix + f.name

    def named(key):  # in full, or its last part next to its table's full name (`a.b`, `c`)
        table, _, leaf = key.rpartition(".")
        return f"`{key}`" in text or re.search(rf"`{re.escape(table)}\.\w+`[^.]*`{leaf}`", text)

    missing = [k for k in keys(FitConfig) if k not in flagged and not named(k)]
    assert not missing, f"config keys with no flag and no word in README.md: {missing}"


def _readme() -> str:
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("no README.md beside the tests")
    return readme.read_text(encoding="utf-8")


def _code_blocks(text: str, languages: tuple[str, ...]) -> list[str]:
    """The fenced code blocks of ``text`` whose info string is one of ``languages``."""
    return [code for _, code in fenced_blocks(text, languages)]


def _command_lines(text: str) -> list[str]:
    """The arguments of every ``biovae ...`` (or ``torchrun ... -m biovae ...``) line of
    ``text``, backslash continuations joined."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        match = re.match(r"(?:biovae|torchrun .*?-m biovae) (.*)", line)
        if match:
            found.append(match.group(1))
    return found


def _subparsers(parser, prefix=""):
    import argparse

    yield prefix.strip(), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{prefix}{name} ")


def _refusal(argv: list[str]) -> str | None:
    """None when the real parser accepts ``argv`` with every flag spelled in full (argparse
    would take ``--iwae`` for ``fit --iwae-samples``), else why not."""
    import argparse
    import contextlib
    import io

    from biovae.cli.parser import build_parser

    err, parser = io.StringIO(), build_parser()
    try:
        with contextlib.redirect_stderr(err):
            parser.parse_args(argv)
    except SystemExit:
        return (err.getvalue().strip().splitlines() or ["refused"])[-1]
    for word in argv:  # the (sub)command's own parser: its flags, not abbreviations of them
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        parser = subs[0].choices[word]
    own = {o for a in parser._actions for o in a.option_strings}
    inexact = [w for w in argv if w.startswith("--") and w.split("=")[0] not in own]
    return f"not flags of {parser.prog!r} as written: {inexact}" if inexact else None


def test_every_command_line_in_readme_code_blocks_parses():
    import shlex

    lines = [c for b in _code_blocks(_readme(), ("", "bash")) for c in _command_lines(b)]
    assert len(lines) > 40  # the blocks are found at all
    refused = {c: r for c in lines if (r := _refusal(shlex.split(c, comments=True)))}
    assert not refused, f"README command lines the parser refuses: {refused}"


def test_every_command_has_help_examples_that_parse():
    import shlex

    from biovae.cli.parser import build_parser

    refused, bare = {}, []
    for name, parser in _subparsers(build_parser()):
        examples = _command_lines(parser.epilog or "")
        if not examples and name not in ("structure", "variants"):
            bare.append(name or "biovae")
        for c in examples:
            if reason := _refusal(shlex.split(c, comments=True)):
                refused[f"{name}: {c}"] = reason
    assert not bare, f"commands whose --help shows no example: {bare}"
    assert not refused, f"--help examples the parser refuses: {refused}"


def test_every_flag_named_in_readme_exists():
    from biovae.cli.parser import build_parser

    parsers = [p for _, p in _subparsers(build_parser())]
    flags = {o for p in parsers for a in p._actions for o in a.option_strings}
    plink = {"--bfile", "--const-fid", "--double-id", "--id-delim", "--write-snplist"}
    other_tools = {"--nproc", "--to-tsv", *plink}  # torchrun's, biom convert's, PLINK's
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", _readme())) - other_tools
    assert not named - flags, f"README names flags no command has: {sorted(named - flags)}"


def test_readme_config_file_example_is_a_valid_config(tmp_path):
    from biovae.config import FitConfig
    from biovae.config_io import from_dict, load_toml

    (block,) = _code_blocks(_readme(), ("toml",))
    path = tmp_path / "settings.toml"
    path.write_text(block, encoding="utf-8")
    cfg = from_dict(FitConfig, load_toml(path))
    assert cfg.model.likelihood.name == "nb" and cfg.data.categorical_covariates == ("donor",)


def test_every_biovae_name_in_readme_resolves():
    import importlib

    def resolve(dotted: str):
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for part in parts[i:]:
                obj = getattr(obj, part)
            return obj
        raise ImportError(dotted)

    missing = []
    for dotted in sorted(set(re.findall(r"\bbiovae(?:\.[A-Za-z_]\w*)+", _readme()))):
        try:
            resolve(dotted)
        except (ImportError, AttributeError):
            missing.append(dotted)
    assert not missing, f"README names that do not exist: {missing}"


def _biovae_index() -> dict[str, list]:
    """Every public function, class and method of the installed biovae modules by its last
    name (``sample`` → every estimator's ``sample``); modules whose optional extra is
    missing are left out."""
    import importlib
    import inspect
    import pkgutil

    import biovae

    index: dict[str, list] = {}
    for info in pkgutil.walk_packages(biovae.__path__, "biovae."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue
        for name, obj in vars(module).items():
            if name.startswith("_") or not callable(obj):
                continue
            index.setdefault(name, []).append(obj)
            if inspect.isclass(obj) and obj.__module__.startswith("biovae"):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and callable(member):
                        index.setdefault(attr, []).append(member)
    return index


def _accepts(obj, keywords: list[str]) -> bool:
    """Whether ``obj`` (a function or class) takes every one of ``keywords`` by name."""
    import inspect

    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return True
    names = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return set(keywords) <= names


#: the packages whose calls the README shows beside biovae's (not checked here)
_FOREIGN = ("numpy.", "scanpy.", "anndata.", "dist.", "torch.", "sklearn.", "pandas.")


def test_every_call_in_readme_inline_code_names_real_parameters():
    """`Name(kw=...)` in the README's prose: Name is a biovae function, class or method (or a
    call on numpy, scanpy, ...) and takes every keyword shown."""
    index, wrong = _biovae_index(), []
    for span in sorted(set(re.findall(r"`([A-Za-z_][\w.]*)\(([^`]*?)\)?`", _readme()))):
        name, args = span
        if name.startswith(_FOREIGN) or re.fullmatch(r"[A-Z]{2}_\d+(\.\d+)?", name):
            continue  # a RefSeq accession in a variant's name, NM_000059.4(BRCA2):c.…
        keywords = re.findall(r"(?<![\w.=])([a-z_]\w*)=(?!=)", args)
        candidates = index.get(name.rpartition(".")[2], [])
        if not candidates or not any(_accepts(c, keywords) for c in candidates):
            wrong.append(f"{name}({args}) takes no {keywords}" if candidates else name)
    assert not wrong, f"README calls that do not match biovae: {wrong}"


def _python_block_errors(block: str) -> list[str]:
    """What in one README Python example would not run as written: an import that fails, or
    a call on a biovae function, class, estimator or method that its signature refuses
    (arguments bound as placeholders: the names and the count are checked, not values)."""
    import ast
    import importlib
    import inspect

    def imported(module: str, name: str):
        try:
            return getattr(importlib.import_module(module), name)
        except AttributeError:
            return importlib.import_module(f"{module}.{name}")

    tree, errors = ast.parse(block), []
    names: dict[str, object] = {"biovae": importlib.import_module("biovae")}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("biovae"):
            for alias in node.names:
                try:
                    names[alias.asname or alias.name] = imported(node.module, alias.name)
                except ModuleNotFoundError as e:
                    if (e.name or "").startswith("biovae"):
                        errors.append(f"from {node.module} import {alias.name}: {e}")
                except ImportError as e:
                    errors.append(f"from {node.module} import {alias.name}: {e}")

    def resolve(expr):
        """The object ``expr`` names, the class of an estimator a call returns, or None."""
        if isinstance(expr, ast.Name):
            return names.get(expr.id)
        if isinstance(expr, ast.Attribute):
            owner = resolve(expr.value)
            if owner is None:
                return None
            if not hasattr(owner, expr.attr):
                errors.append(f"{ast.unparse(expr)}: no attribute {expr.attr!r}")
                return None
            return getattr(owner, expr.attr)
        if isinstance(expr, ast.Call):  # C(...), C(...).fit(...), C.load(...) give a C
            func = resolve(expr.func)
            if inspect.isclass(func):
                return func
            if isinstance(expr.func, ast.Attribute) and expr.func.attr in ("fit", "load"):
                return resolve(expr.func.value)
        return None

    for node in ast.walk(tree):  # estimators bound to names: vae = biovae.VAE(...).fit(...)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            cls = resolve(node.value)
            if inspect.isclass(cls):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names[target.id] = cls
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = resolve(node.func)
        if func is None or not callable(func):
            continue
        owner = resolve(node.func.value) if isinstance(node.func, ast.Attribute) else None
        unbound = inspect.isclass(owner) and inspect.isfunction(
            inspect.getattr_static(owner, node.func.attr, None)
        )  # a method reached through its class (vae = VAE(...); vae.fit): self comes first
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            continue
        args = [None] * (len(node.args) + unbound)
        try:
            signature.bind(*args, **{k.arg: None for k in node.keywords if k.arg})
        except TypeError as e:
            errors.append(f"{ast.unparse(node)}: {e}")
    return list(dict.fromkeys(errors))


def test_every_python_example_in_readme_imports_and_binds():
    blocks = _code_blocks(_readme(), ("python",))
    assert len(blocks) >= 2  # the blocks are found at all
    errors = [e for b in blocks for e in _python_block_errors(b)]
    assert not errors, f"README Python examples that would not run as written: {errors}"


def _flag_defaults() -> dict[str, list]:
    """Every flag's default value(s) as the code has them: the parser's own default, else the
    config field the flag sets (FitConfig, the structure defaults, VariantsConfig), else the
    object the flag is handed to."""
    import inspect

    from biovae.applications.design.screening import WINDOW, CommandScreen, ReferenceScreen
    from biovae.applications.variants.config import VariantsConfig
    from biovae.cli.options import FIT_OPTIONS
    from biovae.cli.parser import build_parser
    from biovae.cli.variants_fit import FIT_FLAGS
    from biovae.config import FitConfig
    from biovae.structure_config import STRUCTURE_DEFAULTS
    from biovae.structure_estimator import REFINE_STEPS

    def field(config, dotted: str):
        for part in dotted.split("."):
            config = getattr(config, part)
        return config

    def default(cls, name: str):
        return inspect.signature(cls).parameters[name].default

    found: dict[str, list] = {
        "--screen-timeout": [default(CommandScreen, "timeout")],
        "--screen-identity": [default(ReferenceScreen, "identity")],
        "--screen-window": list(WINDOW.values()),
        "--refine-steps": [REFINE_STEPS],
    }
    for _, parser in _subparsers(build_parser()):
        for action in parser._actions:
            if action.default not in (None, False, "==SUPPRESS=="):
                for flag in action.option_strings:
                    found.setdefault(flag, []).append(action.default)
    for option in FIT_OPTIONS:
        for config in (FitConfig(), STRUCTURE_DEFAULTS):
            found.setdefault(option.flag, []).append(field(config, option.field))
    for flag, (dotted, _, _) in FIT_FLAGS.items():
        found.setdefault(flag, []).append(field(VariantsConfig(), dotted))
    return found


#: `--flag` (0.2), `--flag VALUE` (600; ...), `--flag`, 0.25 by default, (`--flag`, default
#: 10,000), `--patience` 10 checks; not `--flag`, 0 = off (what a value means, not a default)
_STATED_DEFAULT = re.compile(
    r"`(-{1,2}[a-z][a-z0-9-]*)(?: [A-Z_]+)?`,? \(?(?:default )?(-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?)"
    r"(?![\d.]| ?=)"
)


def test_every_flag_default_stated_in_readme_is_the_codes():
    defaults, wrong = _flag_defaults(), []
    for flag, stated in _STATED_DEFAULT.findall(_readme()):
        value = float(stated.replace(",", ""))
        numbers = (v for v in defaults.get(flag, ()) if not isinstance(v, bool))
        known = {float(v) for v in numbers if isinstance(v, (int, float))}
        if value not in known:
            wrong.append(f"{flag} {stated} (the code: {sorted(known) or 'no default found'})")
    assert len(_STATED_DEFAULT.findall(_readme())) > 10  # the statements are found at all
    assert not wrong, f"defaults the README states that the code does not have: {wrong}"


def test_every_config_default_stated_in_readme_is_the_codes():
    """`likelihood.ploidy` (default 2), `train.weight_decay` (..., default 0): FitConfig's."""
    from biovae.config import FitConfig

    def field(dotted: str):
        for path in (dotted, f"model.{dotted}"):
            config = FitConfig()
            try:
                for part in path.split("."):
                    config = getattr(config, part)
                return config
            except AttributeError:
                continue
        return f"no key {dotted}"

    stated = re.findall(
        r"`([a-z_]+(?:\.[a-z_]+)+)` \([^`()]*?\bdefault (-?\d[\d.]*)(?![\d.])", _readme()
    )
    assert len(stated) >= 2  # the statements are found at all
    wrong = [f"{k} {v} (the code: {field(k)})" for k, v in stated if field(k) != float(v)]
    assert not wrong, f"config defaults the README states that the code does not have: {wrong}"


def test_readme_samples_of_conditional_models_give_their_covariates():
    """`biovae sample MODEL` of a model that a block fitted with covariates (`--batch-key`,
    `--categorical-covariates`, `--continuous-covariates`) needs `--obs`: without it the
    command is refused, so the README's example would not run."""
    import shlex

    conditioning = ("--batch-key", "--categorical-covariates", "--continuous-covariates")
    wrong = []
    for block in _code_blocks(_readme(), ("", "bash")):
        conditional = set()
        for line in _command_lines(block):
            argv = shlex.split(line, comments=True)
            if argv[0] == "fit" and "--out" in argv and set(conditioning) & set(argv):
                conditional.add(argv[argv.index("--out") + 1])
            if argv[0] == "sample" and argv[1] in conditional and "--obs" not in argv:
                wrong.append(line)
    assert not wrong, f"README samples of conditional models without --obs: {wrong}"


def test_readme_examples_never_give_one_model_name_to_two_kinds_of_model():
    # `biovae sample` refuses a `variants fit` model, and `variants score` a `fit` one: an
    # example name must tell which kind it is
    import shlex

    blocks = _code_blocks(_readme(), ("", "bash"))
    lines = [shlex.split(c, comments=True) for b in blocks for c in _command_lines(b)]
    makers: dict[str, set[str]] = {}
    for argv in lines:
        kind = (
            "fit" if argv[:1] == ["fit"] else "variants" if argv[:2] == ["variants", "fit"] else ""
        )
        if kind and "--out" in argv:
            makers.setdefault(argv[argv.index("--out") + 1], set()).add(kind)
    assert makers, "no model-writing example found in README.md"
    both = sorted(name for name, kinds in makers.items() if len(kinds) > 1)
    assert not both, f"README.md names both a fit and a variants fit model {both}"
    for argv in lines:
        if argv[0] == "sample" and len(argv) > 1:
            assert makers.get(argv[1], {"fit"}) == {"fit"}, argv
        if argv[:1] == ["variants"] and argv[1] in ("score", "scan", "design"):
            assert makers.get(argv[2], {"variants"}) == {"variants"}, argv
