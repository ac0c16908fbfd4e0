# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that make ansible-core show a warning and a deprecation warning, for the warning_check target."""

from __future__ import annotations

from ansible.utils.display import Display

display = Display()


def warning_check_warn(text):
    """Show text as a warning; return it."""
    if isinstance(text, str):
        display.warning(text)
    return text


def warning_check_deprecate(text):
    """Show text as a deprecation warning; return it."""
    if isinstance(text, str):
        display.deprecated(text, version="99.0.0", collection_name="cloud66.cloud")
    return text


class FilterModule:
    def filters(self):
        return {
            "warning_check_warn": warning_check_warn,
            "warning_check_deprecate": warning_check_deprecate,
        }
