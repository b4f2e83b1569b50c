// A test-only fault hook: lets the reliability tests stop a plugin at a named point inside ADD so they can
// SIGKILL it there (or change the store under overlayctl's feet, then let it go on). Inert unless OVL_TEST_PAUSE_AT names the point; then the process writes its pid to
// OVL_TEST_PAUSE_FILE (when set) and sleeps until killed, or until the test removes that file (at most 60 s,
// then carries on).
#pragma once

namespace ovl::testhook {

void pausePoint(const char* point);

}  // namespace ovl::testhook
