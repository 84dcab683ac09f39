"""Build and tag the emulator's images (see containers/README.md).

    .venv/bin/python containers/build.py                  # numpy + torch images, offline-capable
    .venv/bin/python containers/build.py numpy            # only the NumPy algorithms' image
    .venv/bin/python containers/build.py torch --cuda     # image classification with torch's CUDA build
    .venv/bin/python containers/build.py emulator         # the emulator itself (docker-compose.yml)
    .venv/bin/python containers/build.py --base public    # FROM python:3.11-slim-bookworm, pip from PyPI

With ``--base local`` (the default) no container registry is needed: the base image
``sagemaker-emulator/base:bookworm`` is built once with debootstrap (from a Debian mirror) and
``docker import``, and the Python packages are downloaded on this machine into a wheel cache
(``~/.cache/sagemaker-emulator/wheels``, also reading pip's find-links) and installed in the image
with ``--no-index``. With ``--base public`` (or ``--base-image IMAGE``) the images start from a
public Python image and pip installs from PyPI inside the build (trusting the certificate bundle that
``PIP_CERT`` names on this machine, if any, as behind a TLS-intercepting proxy).

Images are tagged with the emulator's version, which is how the emulator finds them; each carries
a digest of the ``sagemaker_algorithms`` sources, so the emulator warns when an image is older than
the code. Re-running is cheap: unchanged layers come from Docker's cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sagemaker_emulator.execution import images  # noqa: E402

HERE = ROOT / "containers"
PUBLIC_BASE = "python:3.11-slim-bookworm"
DEBIAN_SUITE = "bookworm"  # its python3 is 3.11: the wheels are downloaded for that
IMAGE_PYTHON = "3.11"
TORCH_VERSION = "2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TARGETS = ("numpy", "torch", "emulator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="numpy, torch, emulator, base or all (default: numpy torch; all adds the emulator)")
    parser.add_argument("--base", default=os.environ.get("SAGEMAKER_EMULATOR_BASE", "local"),
                        choices=["local", "public"],
                        help="local: debootstrap + docker import, wheels from this machine (default); "
                        f"public: FROM {PUBLIC_BASE}, pip from PyPI in the build")
    parser.add_argument("--base-image", help="build FROM this image (with python3 >= 3.10 and venv) instead; "
                        "pip installs from PyPI in the build")
    parser.add_argument("--cuda", action="store_true", help=f"torch: the CUDA build (tag {images.TORCH_CUDA_IMAGE})")
    parser.add_argument("--rebuild-base", action="store_true", help="build the local base image again")
    parser.add_argument("--mirror", default=os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian"),
                        help="Debian mirror for debootstrap (default: %(default)s)")
    parser.add_argument("--wheel-cache", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sagemaker-emulator" / "wheels")
    parser.add_argument("--no-cache", action="store_true", help="do not use Docker's layer cache")
    args = parser.parse_args(argv)
    targets = args.targets or ["numpy", "torch"]
    if "all" in targets:
        targets = ["numpy", "torch", "emulator"]
    unknown = sorted(set(targets) - {*TARGETS, "base"})
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}, base, all")

    import docker

    client = docker.from_env(timeout=600)
    client.ping()
    offline = args.base == "local" and not args.base_image
    if args.base_image:
        base = args.base_image
    elif args.base == "public":
        base = PUBLIC_BASE
    else:
        base = images.BASE_IMAGE
        if args.rebuild_base or not _exists(client, base):
            build_local_base(client, args.mirror)
    if base != images.BASE_IMAGE:  # the tests build their small images FROM the base the others use
        _pull_if_missing(client, base)
        client.images.get(base).tag(images.BASE_IMAGE)
    for target in targets:
        if target == "base":
            continue
        started = time.monotonic()
        tag = build_target(client, target, base, offline, args)
        print(f"built {tag} in {time.monotonic() - started:.0f} s", flush=True)
    return 0


# -- the base image ------------------------------------------------------------------------------
def build_local_base(client, mirror: str) -> None:
    """Debian (minbase) with python3 and venv, made with debootstrap and imported as an image."""
    if shutil.which("debootstrap") is None:
        sys.exit("debootstrap is not installed (apt-get install debootstrap), or use --base public")
    if os.geteuid() != 0:
        sys.exit("building the local base image needs root (debootstrap); run with sudo, or use --base public")
    print(f"building {images.BASE_IMAGE} with debootstrap from {mirror} (a few minutes, once)", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sme-base-") as work:
        rootfs = Path(work) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
             DEBIAN_SUITE, str(rootfs), mirror],
            check=True, stdout=subprocess.DEVNULL,
        )
        for leftover in ("var/lib/apt/lists", "var/cache/apt", "usr/share/doc", "usr/share/man", "usr/share/info"):
            target = rootfs / leftover
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        archive = Path(work) / "rootfs.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*",
             "-C", str(rootfs), "-cf", str(archive), "."],
            check=True,
        )
        repository, tag = images.BASE_IMAGE.rsplit(":", 1)
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=tag,
            changes=["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]'],
        )
    print(f"built {images.BASE_IMAGE} in {time.monotonic() - started:.0f} s", flush=True)


# -- the images ------------------------------------------------------------------------------------
def build_target(client, target: str, base: str, offline: bool, args: argparse.Namespace) -> str:
    requirements, pip_options = _requirements(target, args.cuda, offline)
    tag = {"numpy": images.NUMPY_IMAGE, "emulator": images.EMULATOR_IMAGE,
           "torch": images.TORCH_CUDA_IMAGE if args.cuda else images.TORCH_IMAGE}[target]
    with tempfile.TemporaryDirectory(prefix=f"sme-{target}-") as work:
        context = Path(work)
        shutil.copy(HERE / target / "Dockerfile", context / "Dockerfile")
        shutil.copytree(HERE / "bin", context / "bin")
        wheels = context / "wheels"
        wheels.mkdir()
        if target == "emulator":
            _project_wheel(wheels)
        else:
            shutil.copytree(ROOT / "sagemaker_algorithms", context / "sagemaker_algorithms",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if offline:
            for wheel in _download_wheels(target, requirements, args.wheel_cache, args.cuda):
                shutil.copy(wheel, wheels / wheel.name)
        certificates = os.environ.get("PIP_CERT")
        if not offline and certificates and Path(certificates).is_file():  # a TLS-intercepting proxy's CA
            shutil.copy(certificates, wheels / "ca.pem")
            pip_options = f"--cert /tmp/wheels/ca.pem {pip_options}".strip()
        (wheels / "requirements.txt").write_text("\n".join(requirements) + "\n")
        build_args = {
            "BASE_IMAGE": base,
            "PIP_OPTIONS": pip_options,
            "SOURCE_DIGEST": images.algorithms_source_digest(),
            "TORCH_VARIANT": "cuda" if args.cuda else "cpu",
        }
        print(f"building {tag} FROM {base} ({'offline wheels' if offline else 'pip from the index'})", flush=True)
        _docker_build(client, context, tag, build_args, args.no_cache)
    return tag


def _requirements(target: str, cuda: bool, offline: bool) -> tuple[list[str], str]:
    """What pip installs in the image, and how (the PIP_OPTIONS build argument)."""
    local = "--no-index --find-links /tmp/wheels"
    numpy = f"numpy=={_installed('numpy') or '2.4.6'}"
    if target == "numpy":
        return [numpy], local if offline else ""
    if target == "torch":
        torch = f"torch=={TORCH_VERSION}" if cuda else f"torch=={TORCH_VERSION}+cpu"
        pillow = f"pillow=={_installed('PIL') or '12.0.0'}"
        online = "" if cuda else f"--extra-index-url {TORCH_CPU_INDEX}"
        return [numpy, torch, pillow], local if offline else online
    from sagemaker_emulator import __version__

    return [f"sagemaker-emulator=={__version__}"], local if offline else "--find-links /tmp/wheels"


def _installed(module: str) -> str | None:
    try:
        return __import__(module).__version__.split("+")[0]
    except ImportError:
        return None


def _download_wheels(target: str, requirements: list[str], cache: Path, cuda: bool) -> list[Path]:
    """The wheels ``requirements`` need in the image (Linux, CPython 3.11), from the cache or the index."""
    directory = cache / (f"{target}-cuda" if cuda else target)
    directory.mkdir(parents=True, exist_ok=True)
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in (17, 28, 34)] + [f"manylinux2014_{machine}"]
    requested = list(requirements)
    if target == "emulator":  # this checkout's wheel, fresh each time, and what it depends on
        for stale in directory.glob("sagemaker_emulator-*.whl"):
            stale.unlink()
        requested = [str(p) for p in (ROOT / "build" / "sme-wheel").glob("*.whl")]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--dest", str(directory), "--only-binary=:all:", "--python-version", IMAGE_PYTHON,
               "--implementation", "cp", *sum((["--platform", p] for p in platforms), []), *requested]
    offline = subprocess.run([*command, "--no-index", "--find-links", str(directory)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if offline.returncode != 0:
        print(f"downloading the wheels for {target} into {directory}", flush=True)
        subprocess.run(command, check=True)
    return sorted(directory.glob("*.whl"))


def _project_wheel(wheels: Path) -> None:
    """The emulator's own wheel (pure Python), built from this checkout."""
    out = ROOT / "build" / "sme-wheel"
    shutil.rmtree(out, ignore_errors=True)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--wheel-dir", str(out), str(ROOT)], capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit(f"building the emulator's wheel failed:\n{built.stdout}{built.stderr}")
    for wheel in out.glob("*.whl"):
        shutil.copy(wheel, wheels / wheel.name)


def _docker_build(client, context: Path, tag: str, build_args: dict[str, str], no_cache: bool) -> None:
    output = client.api.build(path=str(context), tag=tag, buildargs=build_args, rm=True, forcerm=True,
                              nocache=no_cache, decode=True, labels={"org.sagemaker-emulator.image": tag})
    for event in output:
        if "stream" in event:
            text = event["stream"].rstrip()
            if text.startswith("Step ") or os.environ.get("VERBOSE"):
                print("  " + text, flush=True)
        if "error" in event:
            sys.exit(f"building {tag} failed: {event['error']}")


def _exists(client, image: str) -> bool:
    try:
        client.images.get(image)
        return True
    except Exception:  # noqa: BLE001
        return False


def _pull_if_missing(client, image: str) -> None:
    if not _exists(client, image):
        print(f"pulling {image}", flush=True)
        repository, _, tag = image.partition(":")
        client.images.pull(repository, tag=tag or "latest")


if __name__ == "__main__":
    sys.exit(main())
