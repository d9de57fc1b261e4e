package cascadelm.model.tokenizer;

import cascadelm.model.gguf.ModelFormatException;

/** The model's chat template is missing or of a format this engine cannot render (the CLI refuses --chat). */
public class UnsupportedChatTemplateException extends ModelFormatException {
    public UnsupportedChatTemplateException(String message) {
        super(message);
    }
}
