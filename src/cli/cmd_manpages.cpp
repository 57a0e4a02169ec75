// `dcas manpages DIR` (hidden; run by the build): one man page per command, dcas(1) and
// dcas-ta(1), dcas-ta-serve(1), ..., written from the same CLI11 definitions as --help, so that the
// two never drift.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "cli/commands.h"

namespace dcas::cli {

namespace {

// Text for roff: backslashes escaped, hyphens as minus signs where they are option syntax, and no
// line starting with a control character.
std::string roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
    line_start = c == '\n';
  }
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// "dcas ta serve" for the command, "dcas-ta-serve" for its page.
std::string command_path(const CLI::App& command, char separator) {
  std::vector<std::string> names;
  for (const CLI::App* c = &command; c; c = c->get_parent()) names.insert(names.begin(), c->get_name());
  return fmt::format("{}", fmt::join(names, std::string(1, separator)));
}

std::vector<const CLI::App*> visible_subcommands(const CLI::App& command) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : command.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); }))
    if (!sub->get_name().empty()) out.push_back(sub);
  return out;
}

bool is_help(const CLI::Option& option) {
  return option.check_lname("help") || option.check_lname("help-all") || option.check_lname("version");
}

void write_option(std::ostream& out, const CLI::Option& option) {
  std::vector<std::string> names;
  for (const auto& s : option.get_snames()) names.push_back("\\fB\\-" + roff(s) + "\\fR");
  for (const auto& l : option.get_lnames()) names.push_back("\\fB\\-\\-" + roff(l) + "\\fR");
  const bool positional = names.empty();
  if (positional) names.push_back("\\fI" + roff(option.get_name()) + "\\fR");
  out << ".TP\n" << fmt::format("{}", fmt::join(names, ", "));
  if (!positional && option.get_expected_min() > 0) out << " \\fI" << roff(option.get_type_name()) << "\\fR";
  out << "\n" << roff(option.get_description());
  std::vector<std::string> notes;
  if (option.get_required()) notes.push_back("required");
  if (!option.get_default_str().empty()) notes.push_back("default: " + option.get_default_str());
  if (!notes.empty()) out << " (" << roff(fmt::format("{}", fmt::join(notes, "; "))) << ")";
  out << "\n";
}

// What dcas(1) says about every command at once.
constexpr std::string_view common_sections = R"(.SH CONFIGURATION FILES
The servers and the host (\fBta serve\fR, \fBap serve\fR, \fBheadend serve\fR, \fBhost pair\fR,
\fBhost run\fR) read \fB\-\-config\fR \fIFILE\fR: one \fIname\fR = \fIvalue\fR per line, where
\fIname\fR is a long option of the command without its leading \fB\-\-\fR and a flag takes
\fBtrue\fR or \fBfalse\fR; a line starting with \fB#\fR is a comment. Every option of the command
may be set there; an option given on the command line wins over the file's. A file with an unknown
name, a name given twice or a value the option refuses stops the command before it starts, with one
line per bad setting (exit status 2). The packaged files are \fI/etc/dcas/ta.conf\fR,
\fI/etc/dcas/headend.conf\fR and \fI/etc/dcas/ap.conf\fR.
.SH SIGNALS
.TP
.B SIGTERM, SIGINT
A server stops gracefully: it stops accepting, tells idle peers it is shutting down, answers the
work in flight and closes what remains after its drain timeout (5 s).
.TP
.B SIGHUP
A server reads its \fB\-\-config\fR file again and applies, unless the command line set them,
\fBquiet\fR, \fBmax\-connections\fR, \fBmax\-unverified\fR, \fBcrl\-refresh\fR and
\fBmax\-in\-flight\fR (TA) or \fBpresence\-interval\fR (AP, headend). A bad file changes nothing;
other settings that changed are logged as taking effect at the next start.
.SH SYSTEMD
Started by a unit of \fBType=notify\fR (\fIdcas\-ta.service\fR, \fIdcas\-headend.service\fR,
\fIdcas\-ap.service\fR), a server signals readiness once it listens, and reloading and stopping
as they begin. Its log lines go to the journal.
.SH EXIT STATUS
0 on success, 1 when the operation failed (a check, a refusal, a file, a key), 2 on bad usage.
)";

// Errors: io_error.
Result<void> write_page(const std::filesystem::path& dir, const CLI::App& command) {
  const bool root = command.get_parent() == nullptr;
  const std::string page = command_path(command, '-'), path = command_path(command, ' ');
  std::ofstream out(dir / (page + ".1"));
  out << fmt::format(".TH {} 1 \"\" \"dcas {}\" \"DCAS Manual\"\n", roff(upper(page)), DCAS_VERSION);
  out << ".SH NAME\n" << roff(page) << " \\- " << roff(command.get_description()) << "\n";
  const auto subs = visible_subcommands(command);
  out << ".SH SYNOPSIS\n.B " << roff(path) << "\n";
  if (!subs.empty()) out << "\\fICOMMAND\\fR ";
  out << "[\\fIOPTIONS\\fR]";
  for (const CLI::Option* option : command.get_options())
    if (option->get_lnames().empty() && option->get_snames().empty())
      out << " \\fI" << roff(option->get_name()) << "\\fR";
  out << "\n.SH DESCRIPTION\n" << roff(command.get_description()) << ".\n";
  if (!subs.empty()) {
    out << ".SH COMMANDS\n";
    for (const CLI::App* sub : subs)
      out << ".TP\n.BR " << roff(command_path(*sub, '-')) << " (1)\n" << roff(sub->get_description()) << "\n";
  }
  std::vector<const CLI::Option*> options;
  for (const CLI::Option* option : command.get_options())
    if (!is_help(*option)) options.push_back(option);
  if (!options.empty()) {
    out << ".SH OPTIONS\n";
    for (const CLI::Option* option : options) write_option(out, *option);
  }
  if (root) out << common_sections;
  out << ".SH SEE ALSO\n";
  std::vector<std::string> see;
  if (!root) see.push_back("\\fB" + roff(command_path(*command.get_parent(), '-')) + "\\fR(1)");
  if (!root && command.get_parent()->get_parent()) see.push_back("\\fBdcas\\fR(1)");
  if (root) see.push_back("the documents in \\fI/usr/share/doc/dcas\\fR: spec.md, security.md, architecture.md");
  out << fmt::format("{}", fmt::join(see, ", ")) << "\n";
  out.close();
  if (!out) return fail(Errc::io_error, fmt::format("cannot write {}", (dir / (page + ".1")).string()));
  for (const CLI::App* sub : subs) DCAS_TRY(write_page(dir, *sub));
  return {};
}

}  // namespace

void add_manpages(CLI::App& app) {
  static std::string dir;
  auto* cmd = app.add_subcommand("manpages", "Write a man page for every command into DIR (run by the build)");
  cmd->group("");  // hidden: a build step, not a user's command
  cmd->add_option("DIR", dir, "Directory for the pages")->required();
  cmd->callback([&app] {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return report_error("manpages", {Errc::io_error, fmt::format("cannot create {}: {}", dir, ec.message())});
    if (auto r = write_page(dir, app); !r) report_error("manpages", r.error());
  });
}

}  // namespace dcas::cli
