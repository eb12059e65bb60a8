using Tessera.Models.Generation.Constraints;

namespace Tessera.Models.Tests.Generation;

/// <summary>The JSON-schema compiler on hand-picked documents: required and optional properties in order, enums and
/// consts, nullable types, bounded strings and arrays, numbers; and errors that name an unsupported keyword.</summary>
public sealed class JsonSchemaGrammarTests
{
    private static void Check(string schema, string[] accept, string[] reject)
    {
        var g = GrammarConstraint.FromJsonSchema(schema);
        foreach (string s in accept) Assert.True(g.Accepts(s), $"should accept {s}\n{g.GbnfText}");
        foreach (string s in reject) Assert.False(g.Accepts(s), $"should reject {s}\n{g.GbnfText}");
    }

    [Fact]
    public void Objects_write_required_and_optional_properties_in_order()
    {
        Check("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["b"],"additionalProperties":false}""",
            ["{\"b\":\"x\"}", "{\"a\":1,\"b\":\"\"}", "{ \"a\" : -12 , \"b\" : \"q\\\"\" , \"c\" : true }", "{\"b\":\"x\",\"c\":false}\n"],
            ["{}", "{\"a\":1}", "{\"b\":\"x\",}", "{\"b\":\"x\",\"d\":1}", "{\"c\":true,\"b\":\"x\"}", "{\"a\":01,\"b\":\"x\"}"]);
        Check("""{"type":"object","properties":{"a":{"type":"null"}}}""", ["{}", "{\"a\":null}"], ["{\"a\":1}", "{,}"]);
    }

    [Fact]
    public void Enums_consts_nullable_types_and_bounds()
    {
        Check("""{"enum":["red",3,null,{"k":[1]}]}""", ["\"red\"", "3", "null", "{\"k\":[1]}"], ["\"blue\"", "4", "\"3\""]);
        Check("""{"const":"é\n"}""", ["\"é\\n\""], ["\"é\""]);
        Check("""{"type":["integer","null"]}""", ["5", "null", "-0"], ["5.5", "\"5\""]);
        Check("""{"type":"string","minLength":2,"maxLength":3}""", ["\"ab\"", "\"a\\nb\"", "\"αβγ\""], ["\"a\"", "\"abcd\""]);
        Check("""{"type":"array","items":{"type":"number"},"minItems":1,"maxItems":2}""", ["[1]", "[1.5e3, -2]"], ["[]", "[1,2,3]", "[1,]"]);
        Check("""{"type":"array","items":{"type":"boolean"}}""", ["[]", "[true,false,true]"], ["[1]"]);
        Check("""{"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]}""", ["7", "\"x\""], ["\"xy\"", "true"]);
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a"}""", "'pattern' is not supported")]
    [InlineData("""{"type":"integer","minimum":0}""", "'minimum' is not supported")]
    [InlineData("""{"$ref":"#/$defs/x"}""", "'$ref' is not supported")]
    [InlineData("""{"type":"tuple"}""", "unknown type 'tuple'")]
    [InlineData("""{"type":"object","properties":{"a":{}},"required":["b"]}""", "required property 'b'")]
    [InlineData("""{"type":"string","maxLength":1,"minLength":2}""", "below minLength")]
    [InlineData("""{"type":""", "not valid JSON")]
    public void Unsupported_or_bad_schemas_are_named(string schema, string message)
    {
        var e = Assert.Throws<TesseraException>(() => GrammarConstraint.FromJsonSchema(schema));
        Assert.Contains(message, e.Message);
    }
}
