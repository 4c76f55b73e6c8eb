/* WASI conformance: files through mounts. Commands (argv pairs):
 *   cat PATH      print the file
 *   write PATH    create/truncate PATH with "written by wasm\n" (prints the error if refused)
 *   append PATH   append a line
 *   ls DIR        list a directory (sorted by the test, one name per line)
 *   stat PATH     print size and type
 *   rm PATH       unlink
 *   seek PATH     read the last 4 bytes via lseek(SEEK_END) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int report(const char *what, const char *path) {
  printf("%s %s: error %d %s\n", what, path, errno, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  int rc = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *cmd = argv[i], *path = argv[i + 1];
    if (!strcmp(cmd, "cat")) {
      FILE *f = fopen(path, "r");
      if (!f) { rc |= report("cat", path); continue; }
      char buf[256]; size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
      fclose(f);
    } else if (!strcmp(cmd, "write") || !strcmp(cmd, "append")) {
      FILE *f = fopen(path, cmd[0] == 'w' ? "w" : "a");
      if (!f) { rc |= report(cmd, path); continue; }
      fputs(cmd[0] == 'w' ? "written by wasm\n" : "appended\n", f);
      fclose(f);
      printf("%s %s: ok\n", cmd, path);
    } else if (!strcmp(cmd, "ls")) {
      DIR *d = opendir(path);
      if (!d) { rc |= report("ls", path); continue; }
      struct dirent *e;
      while ((e = readdir(d))) if (e->d_name[0] != '.') printf("entry %s\n", e->d_name);
      closedir(d);
    } else if (!strcmp(cmd, "stat")) {
      struct stat st;
      if (stat(path, &st)) { rc |= report("stat", path); continue; }
      printf("stat %s: size=%lld %s\n", path, (long long)st.st_size, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
    } else if (!strcmp(cmd, "rm")) {
      if (unlink(path)) { rc |= report("rm", path); continue; }
      printf("rm %s: ok\n", path);
    } else if (!strcmp(cmd, "seek")) {
      int fd = open(path, O_RDONLY);
      if (fd < 0) { rc |= report("seek", path); continue; }
      char buf[5] = {0};
      off_t end = lseek(fd, -4, SEEK_END);
      ssize_t n = read(fd, buf, 4);
      printf("seek %s: at=%lld read=%zd tail=%s\n", path, (long long)end, n, buf);
      close(fd);
    }
  }
  return rc;
}
