// How a follower of the change feed takes one answer of its blocking query (kv/change_feed.hpp).
#include <doctest/doctest.h>

#include "kv/change_feed.hpp"

using ovl::kv::classifyAnswer;
using ovl::kv::FeedAnswer;

TEST_CASE("change feed: the first answer is a change, whoever gave it") {
  CHECK(classifyAnswer(0, 7, false, false) == FeedAnswer::Change);
  CHECK(classifyAnswer(0, 7, false, true) == FeedAnswer::Change);
}

TEST_CASE("change feed: a wait that ran out is no change") {
  CHECK(classifyAnswer(40, 40, true, false) == FeedAnswer::Same);
  CHECK(classifyAnswer(40, 40, false, true) == FeedAnswer::Same);
}

TEST_CASE("change feed: a newer listing is a change from the leader and from a follower") {
  CHECK(classifyAnswer(40, 41, false, false) == FeedAnswer::Change);
  CHECK(classifyAnswer(40, 95, false, true) == FeedAnswer::Change);
}

TEST_CASE("change feed: an older listing from a follower is behind, not handed on") {
  // The follower's wait ran out before it applied index 40, which the leader had shown.
  CHECK(classifyAnswer(40, 39, false, true) == FeedAnswer::Behind);
  CHECK(classifyAnswer(40, 1, false, true) == FeedAnswer::Behind);
}

TEST_CASE("change feed: an older listing from the leader is a restarted store: a change") {
  CHECK(classifyAnswer(40, 3, false, false) == FeedAnswer::Change);
}
