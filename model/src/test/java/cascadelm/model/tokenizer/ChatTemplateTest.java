package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import cascadelm.model.gguf.MapMetadata;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {
    private static final String LLAMA3_JINJA = "{% set loop_messages = messages %}{% for message in loop_messages %}"
            + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}"
            + "{% endfor %}";
    private static final String CHATML_JINJA = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";

    @Test
    void recognisesLlama3AndChatMl() {
        assertEquals(ChatTemplate.Format.LLAMA3, ChatTemplate.detect(LLAMA3_JINJA).format());
        assertEquals(ChatTemplate.Format.CHATML, ChatTemplate.detect(CHATML_JINJA).format());
    }

    @Test
    void rendersLlama3WithTheAssistantHeaderOpen() {
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                ChatTemplate.of(ChatTemplate.Format.LLAMA3).render("Be brief.", "Hi?", true));
    }

    @Test
    void rendersChatMlWithTheAssistantTurnOpen() {
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n",
                ChatTemplate.of(ChatTemplate.Format.CHATML).render("Be brief.", "Hi?", true));
    }

    @Test
    void noSystemMessageMeansNoSystemTurn() {
        assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                ChatTemplate.of(ChatTemplate.Format.CHATML).render(null, "Hi", true));
    }

    @Test
    void unknownTemplateNamesWhatWasExpected() {
        var e = assertThrows(UnsupportedChatTemplateException.class,
                () -> ChatTemplate.detect("{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"));
        assertTrue(e.getMessage().contains("Llama 3") && e.getMessage().contains("ChatML"), e.getMessage());
        var missing = assertThrows(UnsupportedChatTemplateException.class,
                () -> ChatTemplate.fromMetadata(new MapMetadata(Map.of())));
        assertTrue(missing.getMessage().contains("tokenizer.chat_template"), missing.getMessage());
    }

    /** Server-side template injection as it is done against Jinja: reach os through the globals, run a command. */
    static final String HOSTILE_JINJA = "{% for x in range(10**12) %}"
            + "{{ cycler.__init__.__globals__.os.popen('touch /tmp/cascadelm-pwned').read() }}"
            + "{{ self.__init__.__globals__.__builtins__.__import__('os').system('rm -rf ~') }}{% endfor %}";

    @Test
    void hostileTemplateIsOnlyDetectedNeverRun() {
        // With a known marker the format is recognised and rendered by code: nothing of the template is used.
        ChatTemplate chatMl = ChatTemplate.fromMetadata(new MapMetadata(Map.of(ChatTemplate.KEY, HOSTILE_JINJA + CHATML_JINJA)));
        assertEquals(ChatTemplate.Format.CHATML, chatMl.format());
        assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", chatMl.render(null, "Hi", true));
        // Without one it is refused, without quoting the template back.
        var e = assertThrows(UnsupportedChatTemplateException.class,
                () -> ChatTemplate.fromMetadata(new MapMetadata(Map.of(ChatTemplate.KEY, HOSTILE_JINJA))));
        assertFalse(e.getMessage().contains("popen"), e.getMessage());
    }

    @Test
    void hugeTemplateIsDetectedInLinearTime() {
        String huge = "{% if x %}".repeat(1 << 20) + "<|start_header_id|>";
        long start = System.nanoTime();
        assertEquals(ChatTemplate.Format.LLAMA3, ChatTemplate.detect(huge).format());
        assertTrue(System.nanoTime() - start < 2_000_000_000L, "detection took over 2 s");
    }

    @Test
    void bosIsNotDoubledWhenTheTokenizerAddsIt() {
        VocabBuilder v = new VocabBuilder().byteAlphabet();
        for (String s : new String[] {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) v.control(s);
        v.set(Tokenizers.BOS, (long) v.id("<|begin_of_text|>")).set(Tokenizers.PRE, "llama-bpe");
        ChatTemplate llama3 = ChatTemplate.of(ChatTemplate.Format.LLAMA3);
        int bos = v.id("<|begin_of_text|>");

        int[] added = llama3.encode(v.set(Tokenizers.ADD_BOS, true).build("gpt2"), null, "x");
        int[] written = llama3.encode(v.set(Tokenizers.ADD_BOS, false).build("gpt2"), null, "x");
        assertEquals(bos, added[0]);
        assertEquals(1, java.util.Arrays.stream(added).filter(id -> id == bos).count());
        assertArrayEquals(added, written);
    }
}
