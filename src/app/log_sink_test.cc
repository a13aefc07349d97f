#include "app/log_sink.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace app {
namespace {

// A pipe whose read end does not block: what has been written so far.
class Pipe {
 public:
  Pipe() {
    EXPECT_EQ(::pipe2(fds_, O_NONBLOCK), 0);
    ::fcntl(fds_[1], F_SETPIPE_SZ, 1 << 20);
  }
  ~Pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int write_end() const { return fds_[1]; }
  std::string Drain() {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) got_.append(buf, static_cast<size_t>(n));
    return got_;
  }

 private:
  int fds_[2];
  std::string got_;
};

std::shared_ptr<spdlog::logger> Logger(std::shared_ptr<BatchingSink> sink) {
  auto logger = std::make_shared<spdlog::logger>("test", std::move(sink));
  logger->set_pattern("%l %v");
  logger->flush_on(spdlog::level::warn);
  return logger;
}

TEST(BatchingSink, HoldsInfoLinesUntilTheIntervalThenWritesThemInOrder) {
  Pipe pipe;
  auto sink = std::make_shared<BatchingSink>(pipe.write_end(), std::chrono::hours(1));
  auto logger = Logger(sink);
  logger->info("one");
  logger->info("two");
  EXPECT_EQ(pipe.Drain(), "");  // the interval has not passed
  logger->flush();              // what the flusher thread does every interval
  EXPECT_EQ(pipe.Drain(), "info one\ninfo two\n");
}

TEST(BatchingSink, WarningsAndErrorsAreWrittenAtOnceWithWhatCameBefore) {
  Pipe pipe;
  auto logger = Logger(std::make_shared<BatchingSink>(pipe.write_end(), std::chrono::hours(1)));
  logger->info("before");
  logger->error("broken");
  EXPECT_EQ(pipe.Drain(), "info before\nerror broken\n");
}

TEST(BatchingSink, FlushesEveryIntervalOnItsOwn) {
  Pipe pipe;
  auto logger =
      Logger(std::make_shared<BatchingSink>(pipe.write_end(), std::chrono::milliseconds(20)));
  logger->info("soon");
  // Waiting for the flusher thread, not for a timer: it runs every 20 ms.
  for (int i = 0; i < 500 && pipe.Drain().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(pipe.Drain(), "info soon\n");
}

TEST(BatchingSink, WritesA64KiBBatchAtOnceAndTheRestWhenDestroyed) {
  Pipe pipe;
  const std::string line(999, 'x');  // 1,005 bytes a line with "info " and the newline
  {
    auto logger = Logger(std::make_shared<BatchingSink>(pipe.write_end(), std::chrono::hours(1)));
    for (int i = 0; i < 70; ++i) logger->info(line);
    const std::string early = pipe.Drain();
    EXPECT_EQ(early.size(), 66 * 1005u);  // the first batch past 64 KiB
    logger->info("last");
  }
  const std::string all = pipe.Drain();
  EXPECT_EQ(all.size(), 70 * 1005u + 10);
  EXPECT_EQ(all.substr(all.size() - 10), "info last\n");
}

}  // namespace
}  // namespace app
