"""Functional checks of PyXDG's menu parser."""

import os
import tempfile

root = tempfile.mkdtemp()
os.makedirs(os.path.join(root, "applications"))
os.makedirs(os.path.join(root, "menus"))
for name, categories in (("editor", "Utility;TextEditor;"), ("game", "Game;"), ("calc", "Utility;Math;")):
    with open(os.path.join(root, "applications", f"{name}.desktop"), "w") as fh:
        fh.write(f"[Desktop Entry]\nType=Application\nName={name}\nExec={name}\nCategories={categories}\n")
os.environ["XDG_DATA_DIRS"] = root
os.environ["XDG_CONFIG_DIRS"] = root

import xdg.DesktopEntry  # noqa: E402
import xdg.Menu  # noqa: E402

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


def menu(rules):
    path = os.path.join(root, "menus", f"m{checks}.menu")
    with open(path, "w") as fh:
        fh.write(
            "<!DOCTYPE Menu PUBLIC '-//freedesktop//DTD Menu 1.0//EN' "
            "'http://www.freedesktop.org/standards/menu-spec/1.0/menu.dtd'>\n"
            f"<Menu><Name>Applications</Name><AppDir>{root}/applications</AppDir>{rules}</Menu>\n"
        )
    return sorted(str(e) for e in xdg.Menu.parse(path).getEntries())


check(menu("<Include><Category>Utility</Category></Include>") == ["calc.desktop", "editor.desktop"], "include by category")
check(menu("<Include><Or><Category>Game</Category><Category>Math</Category></Or></Include>") == ["calc.desktop", "game.desktop"], "or")
check(menu("<Include><And><Category>Utility</Category><Category>Math</Category></And></Include>") == ["calc.desktop"], "and")
check(menu("<Include><Not><Category>Utility</Category></Not></Include>") == ["game.desktop"], "not")
check(menu("<Include><Filename>game.desktop</Filename></Include>") == ["game.desktop"], "include by file name")
check(menu("<Include><Category>Utility</Category></Include><Exclude><Category>Math</Category></Exclude>") == ["editor.desktop"], "exclude")
entry = xdg.DesktopEntry.DesktopEntry(os.path.join(root, "applications", "editor.desktop"))
check(entry.getName() == "editor" and "TextEditor" in entry.getCategories(), "desktop entries")
print(f"FUNCTIONAL OK ({checks} checks)")
