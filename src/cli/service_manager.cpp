#include "cli/service_manager.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace dcas::cli {

namespace {

void notify(const std::string& state) {
  // The return value only says whether a manager listened; a server runs the same either way.
  (void)sd_notify(0, state.c_str());
}

}  // namespace

void notify_ready() { notify("READY=1\nSTATUS=serving"); }

void notify_reloading() { notify("RELOADING=1\nSTATUS=reloading the configuration"); }

void notify_stopping(std::string_view status) { notify("STOPPING=1\nSTATUS=" + std::string(status)); }

}  // namespace dcas::cli
