"""deploybridge plugin ``mmdet``: the MMDetection 3.x adapter (install, mmcv layer, config loading) and the
``mmdet`` family (RetinaNet, Mask R-CNN and other detectors from MMDetection configs)."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_commands(app):
    import typer

    @app.command("install")
    def install(what: str = typer.Argument(..., help="What to install: mmdet (MMDetection 3.3.0 with mmcv-lite).")) -> int:
        """Install a framework a plugin needs into this environment, without compiling anything (idempotent)."""
        from deploybridge.errors import DeployError
        from deploybridge_mmdet.install import PACKAGES, install_mmdet

        if what != "mmdet":
            raise DeployError(f"unknown install target '{what}'; choose: mmdet")
        done = install_mmdet()
        pinned = ", ".join(f"{n}=={v}" for n, v in PACKAGES.items())
        print(f"installed {', '.join(done)}" if done else f"already installed: {pinned}")
        return 0
