/** Guest path helpers shared by the WASIX host and the Python runtime. */

/**
 * Collapse `//`, `.` and `..` in an absolute POSIX path and drop a trailing `/`.
 * `..` at the root stays at the root, as in the kernel. The caller checks that
 * `path` starts with `/`.
 */
export function collapseAbsolutePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}
