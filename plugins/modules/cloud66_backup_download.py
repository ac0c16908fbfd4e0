#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_backup_download
short_description: Download a managed database backup of a Cloud66 stack to a file
version_added: 1.1.0
description:
  - Downloads one backup that Cloud66 manages for a database of a stack to a file on the host the task runs on
    (usually the controller, with C(delegate_to=localhost)).
  - The backup is given by O(backup_id), or is the newest successful backup of O(database_name).
  - Cloud66 keeps a backup as one or more files (segments of one archive). The module downloads every segment in
    order and writes them, joined, as one file, as Cloud66's own toolbelt does. It streams them in chunks, so its
    memory does not grow with the size of the backup, into a temporary file beside O(dest) that is renamed into
    place only once every segment is complete. A failed download leaves nothing behind and an existing O(dest)
    as it was.
  - A segment whose download is cut off, or refused with a transient status (such as 503), is downloaded again from
    its start with a fresh URL, up to O(api_retries) times. O(api_timeout) bounds the connection to the object store
    and every wait for more data, not the whole download, which takes as long as the backup's size needs.
  - Cloud66 gives each segment as a presigned object-store URL that carries its own authorization. The module never
    sends the Cloud66 token (nor any credential from the environment, such as C(.netrc)) to it, and never shows the
    URL in its results, messages or verbose output.
  - Like M(ansible.builtin.get_url), an existing O(dest) is not downloaded again unless O(force=true), and the file
    attributes (O(mode), O(owner), ...) are applied to O(dest).
  - Reading backups and their download URLs needs only the C(public) scope, so a read-only token is enough.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.stack
attributes:
  check_mode:
    support: full
    details: Check mode looks the backup and its files up, reports whether it would download, and downloads nothing.
  diff_mode:
    support: none
options:
  backup_id:
    description:
      - The id of the backup to download, as M(cloud66.cloud.cloud66_backup_info) returns it.
      - Give O(backup_id) or O(database_name). A backup that did not succeed is refused.
    type: int
  database_name:
    description:
      - Download the newest successful backup of the database with this name.
    type: str
  db_type:
    description:
      - With O(database_name), only backups of this database engine count; by default any engine does (the task
        fails when backups of two engines share the name).
    type: str
    choices: [mysql, postgresql, redis, mongodb]
  dest:
    description:
      - The file to write, on the host the task runs on. Its folder must exist.
      - When O(dest) is an existing folder, the file is written into it under the name of the backup's file
        (without the segment suffix, such as C(-aa), of a split backup), and the backup is looked up even when that
        file exists already.
    type: path
    required: true
  force:
    description:
      - With V(false), an existing O(dest) is not downloaded again (nothing is requested when O(dest) names a file),
        and the task reports no change unless the file attributes change.
      - With V(true), the backup is downloaded and replaces O(dest) every time; the task reports a change when the
        content differs.
    type: bool
    default: false
seealso:
  - module: cloud66.cloud.cloud66_backup_info
  - module: ansible.builtin.get_url
  - ref: ansible_collections.cloud66.cloud.docsite.backups
    description: Backups and safe deletes.
"""

EXAMPLES = r"""
- name: Download the newest backup of the shop's database before a risky change
  cloud66.cloud.cloud66_backup_download:
    stack_name: shop
    environment: production
    database_name: app_production
    db_type: mysql
    dest: /var/backups/cloud66/app_production-{{ ansible_date_time.date }}.tar
    mode: "0600"
  delegate_to: localhost

- name: Download one backup by its id, again even if the file exists
  cloud66.cloud.cloud66_backup_download:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    backup_id: 4153
    dest: /var/backups/cloud66/
    force: true
  register: downloaded
  delegate_to: localhost

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ downloaded.dest }}: {{ downloaded.size }} bytes, SHA-1 {{ downloaded.checksum }}"
"""

RETURN = r"""
dest:
  description: The file written (or that would be written, in check mode).
  returned: always
  type: str
  sample: /var/backups/cloud66/app_production.tar
backup:
  description:
    - The backup, in the shape of RV(cloud66.cloud.cloud66_backup_info#module:backups)'s items.
    - Empty when O(dest) named an existing file and O(force=false), as nothing was looked up then.
  returned: always
  type: dict
  sample: {"id": 4153, "db_type": "mysql", "database_name": "app_production", "backup_status": 0,
           "backup_status_text": "Ok", "backup_date_iso": "2024-01-15T10:30:00Z"}
files:
  description: The backup's files in the order they were joined, each with its C(id) and C(name). Never their URLs.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "tar", "name": "app_production.tar"}]
size:
  description: The size of O(dest) in bytes; absent when O(dest) does not exist (check mode).
  returned: when O(dest) exists
  type: int
  sample: 104857600
checksum:
  description: The SHA-1 checksum of O(dest), of what was written or of the file found; absent when it does not exist.
  returned: when O(dest) exists
  type: str
  sample: 6e642bb8dd5c2e027bf21dd923337cbb4214f827
download_requests:
  description: How many requests the download sent to the object store (a segment requested again counts again).
  returned: always
  type: int
  sample: 1
msg:
  description: What was done.
  returned: always
  type: str
  sample: Downloaded backup 4153 (1 file, 104857600 bytes).
"""

import os
import re

from ansible_collections.cloud66.cloud.plugins.module_utils._backups import (
    DB_TYPES,
    Backups,
    is_successful,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._download import Downloader, Segment
from ansible_collections.cloud66.cloud.plugins.module_utils._module import USER_AGENT, Cloud66Module

# The suffix that split gives the segments of a split backup: name.tar-aa, name.tar-ab, ...
SEGMENT_SUFFIX = re.compile(r"-[a-z]{2}$")


class Cloud66BackupDownload(Cloud66Module):
    def __init__(self, module):
        super().__init__(module)
        self.result.update(dest=self.params["dest"], backup={}, files=[], download_requests=0)

    def check_module_params(self):
        name = self.params["database_name"]
        if name is not None and not name.strip():
            return "database_name must not be empty."
        if self.params["backup_id"] is not None and self.params["backup_id"] < 1:
            return "backup_id must be a positive number, got %d." % self.params["backup_id"]
        if self.params["db_type"] and self.params["backup_id"] is not None:
            return "db_type goes with database_name; backup_id names one backup already."
        dest = self.params["dest"]
        folder = dest if os.path.isdir(dest) else os.path.dirname(dest) or "."
        if not os.path.isdir(folder):
            return "The destination folder %s does not exist; create it first." % folder
        if not os.access(folder, os.W_OK | os.X_OK):
            return "The destination folder %s is not writable." % folder
        return None

    def download(self):
        dest = self.params["dest"]
        if not os.path.isdir(dest) and os.path.exists(dest) and not self.params["force"]:
            self._found(dest, "%s exists; force=false, so nothing was downloaded." % dest)
            return
        backups = Backups(self.client, self.stack_id())
        backup = self._backup(backups)
        self.result["backup"] = backup
        files = backups.files(backup["id"])
        self.result["files"] = files
        if not files:
            self.fail(
                "Cloud66 lists no files for backup %s; there is nothing to download." % backup["id"]
            )
        if os.path.isdir(dest):
            dest = os.path.join(dest, self._file_name(files))
            self.result["dest"] = dest
            if os.path.exists(dest) and not self.params["force"]:
                self._found(dest, "%s exists; force=false, so nothing was downloaded." % dest)
                return
        if self.module.check_mode:
            self.result["changed"] = True
            if os.path.exists(dest):
                self._describe(dest)
            self.result["msg"] = "Would download backup %s (%d file%s)." % (
                backup["id"],
                len(files),
                "" if len(files) == 1 else "s",
            )
            return
        downloader = Downloader(
            timeout=self.params["api_timeout"],
            retries=self.params["api_retries"],
            validate_certs=self.params["validate_certs"],
            user_agent=USER_AGENT,
            hide=self._hide,
        )
        segments = [
            Segment(
                str(item["id"]),
                lambda file_id=item["id"]: backups.file_url(backup["id"], file_id),
            )
            for item in files
        ]
        try:
            written = downloader.download(segments, os.path.dirname(os.path.abspath(dest)))
        finally:
            self.result["download_requests"] = downloader.requests
        self.module.add_cleanup_file(written.path)
        before = self.module.sha1(dest) if os.path.exists(dest) else None
        self.module.atomic_move(written.path, dest)
        self.result["changed"] = before != written.sha1
        self.result.update(size=written.size, checksum=written.sha1)
        self.result["msg"] = "Downloaded backup %s (%d file%s, %d bytes)." % (
            backup["id"],
            len(files),
            "" if len(files) == 1 else "s",
            written.size,
        )
        self._attributes(dest)

    def _backup(self, backups):
        if self.params["backup_id"] is not None:
            backup = backups.get(self.params["backup_id"])
            if not is_successful(backup):
                self.fail(
                    "Backup %s did not succeed (backup_status %s, %s), so its files cannot be trusted; pick another "
                    "(cloud66.cloud.cloud66_backup_info lists them)."
                    % (backup["id"], backup.get("backup_status"), backup["backup_status_text"]),
                    backup=backup,
                )
            return backup
        return backups.newest_successful(self.params["database_name"], self.params["db_type"])

    @staticmethod
    def _file_name(files):
        name = os.path.basename(str(files[0].get("name") or files[0]["id"]))
        if len(files) > 1:
            name = SEGMENT_SUFFIX.sub("", name)
        return name if name not in ("", ".", "..") else "backup"

    def _hide(self, url):
        """Keep a presigned URL, and its query alone, out of everything Ansible shows."""
        self.module.no_log_values.add(url)
        query = url.partition("?")[2]
        if query:
            self.module.no_log_values.add(query)

    def _found(self, dest, msg):
        self.result["msg"] = msg
        self._describe(dest)
        self._attributes(dest)

    def _describe(self, dest):
        self.result.update(size=os.path.getsize(dest), checksum=self.module.sha1(dest))

    def _attributes(self, dest):
        if self.module.check_mode and not os.path.exists(dest):
            return
        file_args = self.module.load_file_common_arguments(self.params, path=dest)
        self.result["changed"] = self.module.set_fs_attributes_if_different(
            file_args, self.result["changed"]
        )


def main():
    module = Cloud66BackupDownload.define_stack_module(
        dict(
            backup_id=dict(type="int"),
            database_name=dict(type="str"),
            db_type=dict(type="str", choices=list(DB_TYPES)),
            dest=dict(type="path", required=True),
            force=dict(type="bool", default=False),
        ),
        required_one_of=[("backup_id", "database_name")],
        mutually_exclusive=[("backup_id", "database_name")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    download = Cloud66BackupDownload(module)
    download.execute(download.download)


if __name__ == "__main__":
    main()
