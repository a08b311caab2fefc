// The list of subcommands, shared by `cairn` itself (main.cc) and by the
// interactive `cairn shell`, which builds a fresh command tree per line.
#include "cli/common.h"

namespace cairn::cli {

void AddCommands(CLI::App& app, Registry& registry) {
  AddMeta(app, registry);
  AddChunk(app, registry);
  AddServer(app, registry);
  AddMkdir(app, registry);
  AddTouch(app, registry);
  AddLs(app, registry);
  AddStat(app, registry);
  AddMv(app, registry);
  AddRm(app, registry);
  AddRmdir(app, registry);
  AddLn(app, registry);
  AddReadlink(app, registry);
  AddDf(app, registry);
  AddXattr(app, registry);
  AddBench(app, registry);
  AddPut(app, registry);
  AddGet(app, registry);
  AddCat(app, registry);
  AddWrite(app, registry);
  AddTruncate(app, registry);
  AddPolicy(app, registry);
  AddAdmin(app, registry);
  AddShell(app, registry);
}

}  // namespace cairn::cli
