namespace Tessera.Imaging;

/// <summary>One image preprocessing step: an 8-bit image in, an 8-bit image out. Images are <see cref="Image"/>s:
/// interleaved bytes with 1, 3 or 4 channels (<see cref="Image.Bgr"/> says the colour order). Each operation
/// documents whether it works per channel or on gray; none changes the image's size.</summary>
public interface IImageOperation
{
    /// <summary>The operation as <see cref="ImagePreprocessor.Parse"/> reads it, e.g. <c>median:3</c>.</summary>
    string Spec { get; }

    /// <summary>Throws a <see cref="TesseraException"/> naming the parameter when one is out of range.</summary>
    void Validate();

    /// <summary>The processed image (a new image; the input is not changed).</summary>
    Image Apply(Image image);
}
