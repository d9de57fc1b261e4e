package cascadelm.kernels.cuda;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test class that needs GPU 0: tagged {@code gpu}, skipped (with the reason) where no CUDA driver or GPU is usable,
 * as on CI; its lifecycle and test methods may take a {@link CudaBackend} or {@link CudaDevice} parameter, one opened
 * for the class and closed after it.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
@ExtendWith(GpuTest.Extension.class)
public @interface GpuTest {

    /** The condition and the parameters of {@link GpuTest}. */
    final class Extension implements ExecutionCondition, ParameterResolver {
        private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(GpuTest.class);

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            String reason = CudaDevice.unavailableReason(0);
            return reason == null ? ConditionEvaluationResult.enabled("GPU 0 is usable")
                    : ConditionEvaluationResult.disabled("no usable GPU: " + reason);
        }

        @Override
        public boolean supportsParameter(ParameterContext p, ExtensionContext context) {
            Class<?> type = p.getParameter().getType();
            return type == CudaBackend.class || type == CudaDevice.class;
        }

        @Override
        public Object resolveParameter(ParameterContext p, ExtensionContext context) {
            // Stored with the test class, so it is closed once the class is done (the store closes AutoCloseables).
            ExtensionContext classContext = context.getParent().filter(c -> c.getTestMethod().isEmpty()
                    && context.getTestMethod().isPresent()).orElse(context);
            CudaBackend backend = classContext.getStore(NAMESPACE)
                    .getOrComputeIfAbsent(CudaBackend.class, k -> CudaBackend.open(0), CudaBackend.class);
            return p.getParameter().getType() == CudaDevice.class ? backend.device() : backend;
        }
    }
}
