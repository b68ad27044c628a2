/* cli_creds.c: the credentials file `bimhub login` writes and every command reads
 * ($XDG_CONFIG_HOME/bimhub/credentials, else ~/.config/bimhub/credentials), and the terminal
 * prompts of login.
 *
 * The file holds "key = value" lines (url, username, token) and comments. It is written to a
 * temporary file created with mode 0600, fsync'd and renamed over the old one, in a directory
 * of mode 0700: the token is never readable by others, not even for a moment. */
#include "cli/cli_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define CREDS_LINE_MAX 4096

/* The directory of the file into buf: $XDG_CONFIG_HOME/bimhub or $HOME/.config/bimhub.
 * *parent_made tells the caller whether the config dir itself came from XDG (kept as is). */
static int creds_dir(char *buf, size_t len, char *config, size_t config_len)
{
  const char *xdg = getenv("XDG_CONFIG_HOME");
  const char *home = getenv("HOME");
  int n;
  if (xdg && xdg[0] == '/')
    n = snprintf(config, config_len, "%s", xdg);
  else if (home && home[0])
    n = snprintf(config, config_len, "%s/.config", home);
  else
    return -1;
  if (n < 0 || (size_t)n >= config_len)
    return -1;
  n = snprintf(buf, len, "%s/bimhub", config);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

int cli_creds_path(char *buf, size_t len)
{
  char dir[4096], config[4096];
  if (creds_dir(dir, sizeof dir, config, sizeof config) != 0)
    return -1;
  int n = snprintf(buf, len, "%s/credentials", dir);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

void cli_creds_clear(struct cli_creds *cr)
{
  free(cr->url);
  free(cr->username);
  if (cr->token) {
    memset(cr->token, 0, strlen(cr->token));
    free(cr->token);
  }
  memset(cr, 0, sizeof *cr);
}

static char *trim(char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
    s[--n] = '\0';
  return s;
}

int cli_creds_load(struct cli_creds *cr, char *why, size_t why_len)
{
  memset(cr, 0, sizeof *cr);
  char path[4096];
  if (cli_creds_path(path, sizeof path) != 0)
    return 0; /* no HOME: nobody is logged in */
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT || errno == ENOTDIR)
      return 0;
    snprintf(why, why_len, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  char line[CREDS_LINE_MAX];
  while (fgets(line, sizeof line, f)) {
    char *s = trim(line);
    if (s[0] == '#' || s[0] == '\0')
      continue;
    char *eq = strchr(s, '=');
    if (!eq)
      continue;
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    char **slot = strcmp(key, "url") == 0        ? &cr->url
                  : strcmp(key, "username") == 0 ? &cr->username
                  : strcmp(key, "token") == 0    ? &cr->token
                                                 : NULL;
    if (slot && val[0]) {
      free(*slot);
      *slot = strdup(val);
    }
  }
  memset(line, 0, sizeof line);
  fclose(f);
  return 0;
}

/* mkdir with mode, or tighten an existing directory of ours to it. */
static int make_dir(const char *dir, mode_t mode, bool is_ours, char *why, size_t why_len)
{
  if (mkdir(dir, mode) == 0)
    return 0;
  if (errno != EEXIST) {
    snprintf(why, why_len, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    snprintf(why, why_len, "%s is not a directory", dir);
    return -1;
  }
  if (is_ours && (sb.st_mode & 07777) != mode && chmod(dir, mode) != 0) {
    snprintf(why, why_len, "cannot set the mode of %s: %s", dir, strerror(errno));
    return -1;
  }
  return 0;
}

int cli_creds_save(const struct cli_creds *cr, char *why, size_t why_len)
{
  char dir[4096], config[4096], path[4200], tmp[4300];
  if (creds_dir(dir, sizeof dir, config, sizeof config) != 0) {
    snprintf(why, why_len, "neither XDG_CONFIG_HOME nor HOME is set");
    return -1;
  }
  if (make_dir(config, 0700, false, why, why_len) != 0 ||
      make_dir(dir, 0700, true, why, why_len) != 0)
    return -1;
  snprintf(path, sizeof path, "%s/credentials", dir);
  snprintf(tmp, sizeof tmp, "%s/.credentials.%ld", dir, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(why, why_len, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
  }
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    unlink(tmp);
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  /* fchmod: a umask cannot loosen 0600, but an old file of that name could be wider */
  int failed = fchmod(fd, 0600) != 0;
  failed |= fprintf(f,
                    "# bimhub credentials, written by `bimhub login`, removed by `bimhub logout`.\n"
                    "url = %s\nusername = %s\ntoken = %s\n",
                    cr->url ? cr->url : "", cr->username ? cr->username : "",
                    cr->token ? cr->token : "") < 0;
  failed |= fflush(f) != 0 || fsync(fd) != 0;
  failed |= fclose(f) != 0;
  if (failed || rename(tmp, path) != 0) {
    snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int cli_creds_remove(char *why, size_t why_len)
{
  char path[4096];
  if (cli_creds_path(path, sizeof path) != 0)
    return 0;
  if (unlink(path) == 0)
    return 1;
  if (errno == ENOENT || errno == ENOTDIR)
    return 0;
  snprintf(why, why_len, "cannot remove %s: %s", path, strerror(errno));
  return -1;
}

/* ---- prompts ---- */

/* The terminal's settings while echo is off, restored by a signal that stops the prompt. */
static int prompt_fd = -1;
static struct termios prompt_saved;
static volatile sig_atomic_t prompt_echo_off;

static void prompt_restore(int sig)
{
  if (prompt_echo_off)
    tcsetattr(prompt_fd, TCSAFLUSH, &prompt_saved);
  signal(sig, SIG_DFL);
  raise(sig);
}

int cli_prompt(const char *prompt, bool echo, char *buf, size_t len)
{
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return -1;
  struct sigaction sa = {.sa_handler = prompt_restore}, old_int, old_term, old_hup;
  sigemptyset(&sa.sa_mask);
  if (!echo) {
    if (tcgetattr(fd, &prompt_saved) != 0) {
      close(fd);
      return -1;
    }
    prompt_fd = fd;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    struct termios quiet = prompt_saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    prompt_echo_off = 1;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  ssize_t w = write(fd, prompt, strlen(prompt));
  (void)w;
  size_t n = 0;
  int rc = -1;
  for (;;) {
    char ch;
    ssize_t r = read(fd, &ch, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    if (ch == '\n' || ch == '\r') {
      rc = 0;
      break;
    }
    if (n + 1 < len)
      buf[n++] = ch;
  }
  buf[len ? (n < len ? n : len - 1) : 0] = '\0';
  if (!echo) {
    tcsetattr(fd, TCSAFLUSH, &prompt_saved);
    prompt_echo_off = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    prompt_fd = -1;
  }
  close(fd);
  return rc;
}
