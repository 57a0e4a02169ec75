// Readiness, reload and stop notices to the service manager (systemd's sd_notify protocol, for
// units of Type=notify). Without $NOTIFY_SOCKET (not started by systemd) each call does nothing.
#pragma once

#include <string_view>

namespace dcas::cli {

// The server listens and its port file is written.
void notify_ready();
// A configuration reload begins (SIGHUP); notify_ready() when it is done.
void notify_reloading();
// A graceful stop begins; `status` is shown by `systemctl status`.
void notify_stopping(std::string_view status);

}  // namespace dcas::cli
