"""A test plugin that registers a fake installer recording its calls (a real install takes minutes): the first call
"installs", every later one finds it installed."""
from deploybridge import hookimpl
from deploybridge.records import Installer

CALLS: list[bool] = []  # the quiet flag of each call


def install_fake(quiet: bool) -> list[str]:
    CALLS.append(quiet)
    return ["fake-tool==1.0"] if len(CALLS) == 1 else []


def install_broken(quiet: bool) -> list[str]:
    raise RuntimeError("the fake index is down")


@hookimpl
def deploy_register_installers(register):
    register(Installer(name="fake-tool", install=install_fake, version="fake-tool==1.0", description="a fake tool"))
    register(Installer(name="broken-tool", install=install_broken, description="raises"))
