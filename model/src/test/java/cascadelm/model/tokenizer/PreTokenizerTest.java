package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Expected splits are those of Hugging Face tokenizers' Split(regex, "isolated") (checked with 0.23.2). */
class PreTokenizerTest {

    @Test
    void gpt2ContractionsAreCaseSensitive() {
        assertEquals(List.of("I", "'", "M", " here", ",", " you", "'re", " OK"), PreTokenizer.GPT2.split("I'M here, you're OK"));
        assertEquals(List.of("don", "'t", " DON", "'", "T"), PreTokenizer.GPT2.split("don't DON'T"));
    }

    @Test
    void llama3ContractionsIgnoreCase() {
        assertEquals(List.of("I", "'M", " here", ",", " you", "'re", " OK"), PreTokenizer.LLAMA3.split("I'M here, you're OK"));
        assertEquals(List.of("don", "'t", " DON", "'T"), PreTokenizer.LLAMA3.split("don't DON'T"));
        assertEquals(List.of("don", "'t", " DON", "'T"), PreTokenizer.QWEN2.split("don't DON'T"));
    }

    @Test
    void numbersSplitWholeForGpt2InThreesForLlama3AndSinglyForQwen2() {
        assertEquals(List.of("12345678", " in", " 2024"), PreTokenizer.GPT2.split("12345678 in 2024"));
        assertEquals(List.of("123", "456", "78", " in", " ", "202", "4"), PreTokenizer.LLAMA3.split("12345678 in 2024"));
        assertEquals(List.of("1", "2", "3", "4", "5", "6", "7", "8", " in", " ", "2", "0", "2", "4"),
                PreTokenizer.QWEN2.split("12345678 in 2024"));
    }

    @Test
    void aWhitespaceRunLeavesItsLastSpaceToTheNextWord() {
        for (PreTokenizer p : PreTokenizer.values()) {
            assertEquals(List.of("a", "  ", " b"), p.split("a   b"), p.name());
        }
    }

    @Test
    void unicodeSpacesAreWhitespaceAsInOniguruma() {
        String text = "x\u00A0\u00A0y\u3000\u3000z";
        assertEquals(List.of("x", "\u00A0", "\u00A0", "y", "\u3000", "\u3000", "z"), PreTokenizer.GPT2.split(text));
        assertEquals(List.of("x", "\u00A0", "\u00A0y", "\u3000", "\u3000z"), PreTokenizer.LLAMA3.split(text));
    }

    @Test
    void codeWithTabsAndNewlines() {
        String code = "if x:\n\tif y:\r\n\t\treturn 1\n\n";
        assertEquals(List.of("if", " x", ":", "\n", "\t", "if", " y", ":", "\r\n\t", "\t", "return", " 1", "\n\n"),
                PreTokenizer.GPT2.split(code));
        assertEquals(List.of("if", " x", ":\n", "\tif", " y", ":\r\n", "\t", "\treturn", " ", "1", "\n\n"),
                PreTokenizer.LLAMA3.split(code));
    }

    @Test
    void emojiStayInOneWord() {
        assertEquals(List.of("\uD83D\uDE00\uD83D\uDC4D\uD83C\uDFFD", " ok"), PreTokenizer.LLAMA3.split("😀👍🏽 ok"));
    }

    @Test
    void wordsCoverTheWholeText() {
        String text = "Mixed: 123 \t\u2028 ünïcödé\r\n\r\n end  ";
        for (PreTokenizer p : PreTokenizer.values()) {
            assertEquals(text, String.join("", p.split(text)), p.name());
        }
    }
}
