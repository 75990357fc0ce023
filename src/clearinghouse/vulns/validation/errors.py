"""The validation errors, in the one hierarchy (`core.errors`).

A bad recipe is refused with one of these, each with a stable `code` (docs/validation.md lists
them); a recipe that parses always gets a verdict, and a sandbox or an index that fails gives the
verdict `error`, never an exception.
"""

from __future__ import annotations

from clearinghouse.core.errors import InvalidInput, UpstreamFailure


class RecipeInvalid(InvalidInput):
    """The recipe directory or its `recipe.toml` breaks the format. Codes: `recipe_missing`,
    `recipe_too_large`, `recipe_toml_invalid`, `recipe_invalid`, `expect_unknown`,
    `expect_invalid`, `path_outside_recipe`, `file_missing`, `file_too_large`,
    `source_unsupported`, `osv_record_invalid`."""

    default_code = "recipe_invalid"
    title = "Invalid recipe"


class ArchiveRefused(InvalidInput):
    """A source archive (a tarball in the recipe, or a package's sdist) that is not extracted: an
    absolute path, `..`, a link out of the tree, a device file, too many members or too large."""

    default_code = "archive_refused"
    title = "Archive refused"


class SourceNotFound(InvalidInput):
    """The package index has no source distribution for the purl's name and version."""

    default_code = "source_not_found"
    title = "Source not found"


class SourceUnavailable(UpstreamFailure):
    """The package index could not be reached, answered an error, or served a file whose
    sha256 is not the one it announced. The validation's verdict is `error`."""

    default_code = "source_unavailable"
    title = "Source unavailable"
