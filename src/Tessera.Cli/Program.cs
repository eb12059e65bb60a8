using System.CommandLine;
using Tessera.Cli.Commands;

var root = new RootCommand("tessera: a .NET multimodal inference runtime")
{
    InfoCommand.Create(),
    BenchCommand.Create(),
    InspectCommand.Create(),
    QuantizeCommand.Create(),
    OcrCommand.Create(),
    GenerateCommand.Create(),
    TokenizeCommand.Create(),
    ConvertCommand.Create(),
    ChatCommand.Create(),
    VaeCommand.Create(),
    DiffuseCommand.Create(),
    EmbedCommand.Create(),
    ClassifyCommand.Create(),
    IndexCommand.Create(),
    SearchCommand.Create(),
};
return root.Parse(args).Invoke();
