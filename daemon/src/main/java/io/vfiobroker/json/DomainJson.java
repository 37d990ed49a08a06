package io.vfiobroker.json;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.domain.PciClass;
import tools.jackson.core.JsonGenerator;
import tools.jackson.databind.SerializationContext;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.ValueSerializer;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.module.SimpleModule;

/** How domain values look on the wire (REST and the CLI's --json): addresses and classes as strings. */
public final class DomainJson {

    private DomainJson() {
    }

    public static SimpleModule module() {
        SimpleModule m = new SimpleModule("vfio-broker-domain");
        m.addSerializer(PciAddress.class, new ToText<>(PciAddress.class, PciAddress::toString));
        m.addSerializer(PciClass.class, new ToText<>(PciClass.class, PciClass::hex));
        m.addSerializer(InterruptRemapping.class, new ToText<>(InterruptRemapping.class, InterruptRemapping::wireName));
        m.addSerializer(Backend.class, new ToText<>(Backend.class, Backend::wireName));
        m.addDeserializer(PciAddress.class, new FromText<>(PciAddress::parse));
        m.addDeserializer(Backend.class, new FromText<>(Backend::parse));
        return m;
    }

    /** One line per document, for output other programs parse line by line. */
    public static JsonMapper compactMapper() {
        return JsonMapper.builder().addModule(module()).build();
    }

    public static JsonMapper mapper() {
        return JsonMapper.builder().addModule(module()).enable(SerializationFeature.INDENT_OUTPUT).build();
    }

    /**
     * Prints value as {@link #mapper()} writes it, then a newline, leaving out open: an inventory of thousands of
     * devices streams out as it is written instead of being built as one string first.
     */
    public static void print(java.io.PrintWriter out, Object value) {
        mapper().writer().without(tools.jackson.core.StreamWriteFeature.AUTO_CLOSE_TARGET).writeValue(out, value);
        out.println();
    }

    private static final class FromText<T> extends tools.jackson.databind.ValueDeserializer<T> {
        private final java.util.function.Function<String, T> parse;

        FromText(java.util.function.Function<String, T> parse) {
            this.parse = parse;
        }

        @Override
        public T deserialize(tools.jackson.core.JsonParser p, tools.jackson.databind.DeserializationContext ctxt) {
            return parse.apply(p.getValueAsString());
        }
    }

    private static final class ToText<T> extends ValueSerializer<T> {
        private final Class<T> type;
        private final java.util.function.Function<T, String> text;

        ToText(Class<T> type, java.util.function.Function<T, String> text) {
            this.type = type;
            this.text = text;
        }

        @Override
        public Class<?> handledType() {
            return type;
        }

        @Override
        public void serialize(T value, JsonGenerator gen, SerializationContext ctxt) {
            gen.writeString(text.apply(value));
        }
    }
}
