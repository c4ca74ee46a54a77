"""Options declared once: the declarations of interfaces/options.py drive the Python API's
checks, the argparse flags and the TOML keys, and each value is checked once."""

from __future__ import annotations

import argparse
import inspect
import re
import warnings

import pytest

import lossbridge
from lossbridge.core.errors import CertificateWarning, InputError
from lossbridge.families.normal import Normal
from lossbridge.families.registry import FAMILIES, register_family, unregister_family
from lossbridge.interfaces import cli, pipeline, runspec
from lossbridge.interfaces.cli import INTERFACE_FLAGS, build_parser, command_parser, main
from lossbridge.interfaces.options import (
    FIXED_SCALE_OPTIONS,
    OPTIONS,
    CheckedOptions,
    Option,
    validate_options,
)
from lossbridge.interfaces.runspec import load_spec, run_spec


def flag_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings]


def option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The parser's flags that are not INTERFACE_FLAGS, by destination."""
    out: dict[str, argparse.Action] = {}
    for action in flag_actions(parser):
        if set(action.option_strings) & set(INTERFACE_FLAGS):  # "-h, --help", "--out, -o"
            continue
        assert action.dest not in out, f"two flags store {action.dest!r}"
        out[action.dest] = action
    return out


@pytest.mark.parametrize("command", ["fit", "report"])
def test_every_option_is_one_flag_and_every_flag_an_option(command):
    actions = option_actions(command_parser(command))
    assert set(actions) == set(OPTIONS)  # vice versa: no flag that is not declared
    for name, option in OPTIONS.items():
        action = actions[name]
        assert action.option_strings == [option.flag, *([option.short] if option.short else [])]
        assert action.default == option.default, name
        assert action.help == option.help, name
        if option.metavar:
            assert action.metavar == option.metavar, name
    flags = [s for a in flag_actions(command_parser(command)) for s in a.option_strings]
    assert len(flags) == len(set(flags))


def test_run_takes_exactly_the_options_a_spec_cannot_hold():
    actions = option_actions(command_parser("run"))
    assert set(actions) == {n for n, o in OPTIONS.items() if not o.toml} == {"progress"}


def test_toml_accepts_exactly_the_declared_keys(tmp_path):
    keys = runspec.option_keys()
    assert set(keys) == {n for n, o in OPTIONS.items() if o.toml}
    assert runspec.allowed_keys() == (*runspec.SPEC_KEYS, *keys)
    # Every key at its default (TOML has no null: optional options are left out) loads...
    lines = ['data = "engel"'] + [f"{n} = {_toml(o.default)}" for n, o in OPTIONS.items()
                                  if o.toml and o.default is not None]
    (tmp_path / "all.toml").write_text("\n".join(lines) + "\n")
    assert load_spec(tmp_path / "all.toml").options == validate_options({}, spelling="toml")
    # ... and a key that is not declared, or declared for the command line only, does not.
    for key in ("progress", "hdi-prob", "no_sample", "likelihood"):
        (tmp_path / "bad.toml").write_text(f'data = "engel"\n{key} = true\n')
        with pytest.raises(InputError, match=f"unknown key\\(s\\) '{key}'; valid keys: "
                           + ", ".join(runspec.allowed_keys())):
            load_spec(tmp_path / "bad.toml")


def _toml(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value).replace("'", '"')


def test_defaults_agree_across_python_cli_and_toml(tmp_path):
    signature = inspect.signature(lossbridge.fit)
    # The keywords of fit are the declared options (adding one is the one line it takes).
    assert [p for p in signature.parameters if p != "data"] == list(OPTIONS)
    python = validate_options({n: p.default for n, p in signature.parameters.items() if n != "data"})
    cli_options = cli._fit_options(build_parser().parse_args(["fit", "engel"]))
    (tmp_path / "s.toml").write_text('data = "engel"\n')
    toml = load_spec(tmp_path / "s.toml").options
    assert python == cli_options == toml == validate_options({})
    for name, option in OPTIONS.items():
        assert signature.parameters[name].default == option.default, name
        assert command_parser("fit").get_default(name) == option.default, name
    assert toml["scales"] == ["learned", "fixed"] and toml["likelihoods"] == [
        name for name, family in FAMILIES.items() if family.in_default_set]


# (option, the bad value as the command line gives it); Python and TOML give the same value.
BAD = [("draws", "0"), ("draws", "2"), ("tune", "1.5"), ("chains", "x"), ("cores", "-1"),
       ("seed", "-1"), ("hdi_prob", "2"), ("priors", "strong"), ("scales", "free"),
       ("sigma", "-1"), ("b", "nan"), ("likelihoods", "cauchy")]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_a_bad_value_gives_the_same_one_line_message_in_each_spelling(capsys, tmp_path, name, value):
    option = OPTIONS[name]
    given = [value] if option.action == "append" else value  # a repeated flag gives a list
    with pytest.raises(InputError) as python:
        lossbridge.fit("engel", **{name: given}, sample=False)
    message = str(python.value)
    assert message.startswith(f"{name} must ") and "\n" not in message
    assert f"got {value!r}" in message

    spec = tmp_path / "s.toml"
    spec.write_text(f'data = "engel"\n{name} = {_toml(given)}\n')
    with pytest.raises(InputError) as toml:
        load_spec(spec)
    assert str(toml.value) == f"analysis spec {str(spec)!r}: {message}"

    code = main(["fit", "engel", "--no-sample", option.flag, value])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"lossbridge: error: {option.flag}{message[len(name):]}\n"


def test_fixed_scale_cross_check_names_the_option_in_each_spelling(capsys, tmp_path):
    with pytest.raises(InputError) as python:
        validate_options({"likelihoods": "laplace", "sigma": 2.0})
    message = str(python.value)
    assert message.startswith("sigma fixes the Normal scale sigma of the normal-fixed model, "
                              "which is not requested") and "got sigma=2; b fixes" in message
    code = main(["fit", "engel", "--no-sample", "--likelihood", "laplace", "--sigma", "2"])
    err = capsys.readouterr().err
    assert code == 2
    # Every fixed-scale option (sigma, b, quantile_sigma, ...) in its flag spelling.
    options = "|".join(sorted(set(FIXED_SCALE_OPTIONS.values()), key=len, reverse=True))
    flagged = re.sub(rf"(?<![\w-])({options})(=| fixes)",
                     lambda m: "--" + m[1].replace("_", "-") + m[2], message)
    assert err == "lossbridge: error: " + flagged + "\n"


def test_help_lists_every_option(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "2000")  # one line per flag: help texts are not wrapped
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    top = capsys.readouterr().out
    assert done.value.code == 0
    assert all(command in top for command in ("fit", "report", "run", "datasets"))
    for command in ("fit", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for option in OPTIONS.values():
            shown = option.help % {"default": option.default}
            assert f"{option.flag}" in text and shown in text, (command, option.name)
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--progress" in capsys.readouterr().out


def test_checked_options_are_typed_and_only_made_by_validate_options():
    checked = validate_options({"draws": "200", "hdi_prob": "0.5", "seed": "7", "sigma": "2",
                                "likelihoods": "normal", "scales": "both"}, spelling="cli")
    assert checked["draws"] == 200 and checked["hdi_prob"] == 0.5 and checked["seed"] == 7
    assert checked["sigma"] == 2.0 and checked["scales"] == ["learned", "fixed"]
    for name, option in OPTIONS.items():
        assert checked[name] is None and option.optional or isinstance(checked[name], option.type), name
    with pytest.raises(TypeError, match="made by validate_options"):
        CheckedOptions(dict(checked), "python", object())
    with pytest.raises(TypeError, match="takes the CheckedOptions"):
        pipeline.run_pipeline("engel", dict(checked))
    replaced = checked.replace(progress=True)
    assert replaced["progress"] is True and checked["progress"] is None
    with pytest.raises(InputError, match="progress must be true or false; got 'yes'"):
        checked.replace(progress="yes")
    with pytest.raises(InputError, match="unknown option\\(s\\) 'bogus'"):
        validate_options({"bogus": 1})


def test_choices_are_what_the_checks_accept():
    for name, option in OPTIONS.items():
        if option.choices is None:
            continue
        for choice in option.choices:
            option.validate(choice)
        with pytest.raises(InputError, match=f"^{name} must"):
            option.validate("not-a-choice")


@pytest.fixture
def counted(monkeypatch):
    """How often each option's value is checked."""
    calls: dict[str, int] = {}
    validate = Option.validate

    def counting(self, value, spelling="python"):
        calls[self.name] = calls.get(self.name, 0) + 1
        return validate(self, value, spelling)

    monkeypatch.setattr(Option, "validate", counting)
    return calls


def test_the_command_line_checks_each_option_once(capsys, counted):
    code = main(["fit", "stackloss", "--no-sample", "--likelihood", "normal", "--scale", "learned",
                 "--draws", "200", "--json"])
    assert code == 0, capsys.readouterr().err
    assert counted == dict.fromkeys(OPTIONS, 1)


def test_a_toml_spec_checks_each_option_once(tmp_path, counted):
    path = tmp_path / "s.toml"
    path.write_text('data = "stackloss"\nlikelihoods = "normal"\nscales = "learned"\nsample = false\n')
    run_spec(path, progress=False)
    # progress is not a TOML key: load_spec fills in its default, run_spec checks the flag's value.
    assert counted == {**dict.fromkeys(OPTIONS, 1), "progress": 2}


class Toy(Normal):
    """A Normal under another name, with its scale called s."""

    name = "toy"
    title = "Toy"
    scale_name = "s"


@pytest.fixture
def toy():
    family = register_family(Toy())
    yield family
    unregister_family("toy")


def test_a_family_registered_later_brings_its_fixed_scale_option(toy, tmp_path):
    assert FIXED_SCALE_OPTIONS["toy"] == "s" and OPTIONS["s"].flag == "--s"
    others = set(FIXED_SCALE_OPTIONS.values()) - {"s"}
    # with the other scales
    assert list(OPTIONS).index("s") == max(list(OPTIONS).index(o) for o in others) + 1
    assert "s" in option_actions(command_parser("fit")) and "s" in runspec.option_keys()
    assert OPTIONS["s"].help == ("fixed scale s of the Toy likelihood (toy-fixed; default: "
                                 "plug-in MLE sqrt(RSS/n) of the exact OLS fit)")
    with pytest.raises(InputError, match="^s fixes the Toy scale s of the toy-fixed model"):
        validate_options({"likelihoods": "normal", "s": 1.0})
    path = tmp_path / "s.toml"
    path.write_text('data = "engel"\nlikelihoods = "toy"\nscales = "fixed"\ns = 100.0\n'
                    "sample = false\n")
    with warnings.catch_warnings():  # whether the toy's MAP certifies is not this test's concern
        warnings.simplefilter("ignore", CertificateWarning)
        _, analysis = run_spec(path, progress=False)
    assert analysis.fits[0].spec.fixed_scale == 100.0
    assert analysis.fits[0].spec.fixed_scale_source == "user value (--s)"
    assert [k for k in analysis.options if k in ("sigma", "b", "s")] == ["sigma", "b", "s"]
    assert (analysis.options["sigma"], analysis.options["b"], analysis.options["s"]) == (None, None, 100.0)


def test_the_option_goes_with_the_family():
    register_family(Toy())
    unregister_family("toy")
    assert "s" not in OPTIONS and "toy" not in FIXED_SCALE_OPTIONS
    assert "--s" not in {s for a in flag_actions(command_parser("fit")) for s in a.option_strings}


def test_families_sharing_a_scale_name_share_its_option():
    class Twin(Normal):
        name = "twin"
        title = "Twin"

    register_family(Twin())
    try:
        assert FIXED_SCALE_OPTIONS["twin"] == FIXED_SCALE_OPTIONS["normal"] == "sigma"
        assert list(OPTIONS).count("sigma") == 1
        assert OPTIONS["sigma"].help.startswith("fixed scale σ of the Normal likelihood "
                                                "(normal-fixed; default: ")
        assert "and of the Twin likelihood (twin-fixed; " in OPTIONS["sigma"].help
        checked = validate_options({"likelihoods": "twin", "sigma": 2.0})  # applies to the twin
        assert checked.fixed_scales == {name: 2.0 if name in ("normal", "twin") else None
                                        for name in FAMILIES}
        with pytest.raises(InputError, match="^sigma fixes the Normal or Twin scale sigma of the "
                           "normal-fixed or twin-fixed model, which is not requested"):
            validate_options({"likelihoods": "laplace", "sigma": 2.0})
    finally:
        unregister_family("twin")


def test_a_scale_named_like_another_option_is_refused():
    class Clash(Normal):
        name = "clash"
        scale_name = "draws"

    register_family(Clash())
    try:
        with pytest.raises(InputError, match="family 'clash' names its scale 'draws', which is "
                           "already the option 'draws'"):
            validate_options({})
    finally:
        unregister_family("clash")
    assert OPTIONS["draws"].default == 1000  # the declarations recover with the registry



@pytest.mark.parametrize("scales", ["fixed", "learned", ["learned"]])
def test_a_scale_mode_with_only_scale_less_families_is_refused(scales):
    """--scale fixed/learned would be silently ignored by Bernoulli and Poisson (one model
    without a scale each), as --link without bernoulli is refused: one line naming it."""
    with pytest.raises(InputError, match=r"^--scale (fixed|learned) chooses how a scale is "
                                         r"treated, but no requested likelihood has a scale "
                                         r"\(likelihoods: bernoulli, poisson;.*drop --scale$"):
        validate_options({"likelihoods": ["bernoulli", "poisson"], "scales": scales}, "cli")


@pytest.mark.parametrize(("likelihoods", "scales"), [
    (["bernoulli"], None), (["bernoulli"], "both"), (["poisson"], ["learned", "fixed"]),
    (["bernoulli", "normal"], "fixed"), (["poisson", "laplace"], "learned")])
def test_the_default_scale_mode_or_a_family_with_a_scale_is_accepted(likelihoods, scales):
    values = {"likelihoods": likelihoods} | ({} if scales is None else {"scales": scales})
    checked = validate_options(values, "cli")
    assert checked["likelihoods"] == likelihoods


def test_positive_level_needs_a_binary_likelihood():
    """--positive codes a two-level response 0/1 for a binary family; with only continuous
    ones the coding would be fitted as a number, silently (found in review)."""
    with pytest.raises(InputError, match=r"^positive 'pass' codes a binary response, but no "
                                         r"requested likelihood is binary \(likelihoods: normal\); "
                                         r"add --likelihood bernoulli or drop positive$"):
        validate_options({"likelihoods": ["normal"], "positive": "pass"})
    checked = validate_options({"likelihoods": ["bernoulli", "normal"], "positive": "pass"})
    assert checked["positive"] == "pass"
