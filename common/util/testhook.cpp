#include "util/testhook.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace ovl::testhook {

void pausePoint(const char* point) {
  const char* want = std::getenv("OVL_TEST_PAUSE_AT");
  if (!want || std::strcmp(want, point) != 0) return;
  const char* file = std::getenv("OVL_TEST_PAUSE_FILE");
  if (file) {
    int fd = ::open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::string pid = std::to_string(::getpid()) + "\n";
      (void)!::write(fd, pid.data(), pid.size());
      ::close(fd);
    }
  }
  for (int i = 0; i < 6000; ++i) {
    ::usleep(10000);
    if (file && ::access(file, F_OK) != 0) return;  // the test removed the file: carry on
  }
}

}  // namespace ovl::testhook
