"""A test plugin that registers an installer of its own and one whose name db_test_installs already owns."""
from deploybridge import hookimpl
from deploybridge.records import Installer


@hookimpl
def deploy_register_installers(register):
    register(Installer(name="other-tool", install=lambda quiet: []))
    register(Installer(name="fake-tool", install=lambda quiet: ["stolen"]))
